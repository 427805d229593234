"""Prints every mail it receives on port 2525 (SMTP, no TLS, no auth) to stdout."""
import asyncore
import smtpd
import sys
import warnings

warnings.simplefilter("ignore", DeprecationWarning)


class Sink(smtpd.SMTPServer):
    def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        subject = next((l for l in text.splitlines() if l.lower().startswith("subject:")), "")
        print(f"MAIL from={mailfrom} to={','.join(rcpttos)} {subject}", flush=True)
        return None


Sink(("0.0.0.0", 2525), None, decode_data=False)
print("mailsink listening on :2525", flush=True)
sys.stdout.flush()
asyncore.loop()
