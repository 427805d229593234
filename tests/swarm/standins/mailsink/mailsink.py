"""The test's mail relay, strict as a real submission server: SMTP on :2525 that refuses
everything but EHLO/STARTTLS/QUIT before STARTTLS, and any mail before AUTH (PLAIN)
with MAILSINK_USER and the password in MAILSINK_PASSWORD_FILE (the stack's
`smtp_password` secret). Its certificate and key come from MAILSINK_CERT and
MAILSINK_KEY. HTTP on :8080 takes heartbeats (Alertmanager's dead man's switch webhook).

Prints one line per accepted mail (`MAIL ... tls=on auth=USER Subject: ...`), per refused
login (`AUTH refused ...`) and per heartbeat (`HEARTBEAT ...`) to stdout, where the
cluster test reads them. Debian's python3-aiosmtpd.
"""
import http.server
import json
import os
import ssl
import threading
import time
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

# (aiosmtpd 1.4 warns about its own Session.login_data on every login)
warnings.simplefilter("ignore")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


USER = os.environ["MAILSINK_USER"]
PASSWORD = read(os.environ.get("MAILSINK_PASSWORD_FILE", "/run/secrets/smtp_password"))


def say(line):
    print(line, flush=True)


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login.decode("utf-8", "replace") == USER
        and auth_data.password.decode("utf-8", "replace") == PASSWORD
    )
    if not ok:
        login = auth_data.login.decode("utf-8", "replace") if isinstance(auth_data, LoginPassword) else "?"
        say(f"AUTH refused mechanism={mechanism} login={login} peer={session.peer[0]}")
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


class Handler:
    async def handle_DATA(self, server, session, envelope):
        text = envelope.content.decode("utf-8", "replace")
        subject = next((l for l in text.splitlines() if l.lower().startswith("subject:")), "")
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else "-"
        tls = "on" if session.ssl else "off"
        say(f"MAIL from={envelope.mail_from} to={','.join(envelope.rcpt_tos)} tls={tls} auth={login} {subject}")
        return "250 OK"


class Heartbeat(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            names = sorted({a["labels"]["alertname"] for a in json.loads(body).get("alerts", [])})
        except (ValueError, KeyError, TypeError):
            names = ["unreadable"]
        say(f"HEARTBEAT path={self.path} alerts={','.join(names)}")
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(os.environ["MAILSINK_CERT"], os.environ["MAILSINK_KEY"])
controller = Controller(
    Handler(),
    hostname="0.0.0.0",
    port=2525,
    server_hostname="mailsink",
    tls_context=context,
    require_starttls=True,
    authenticator=authenticate,
    auth_required=True,
    auth_require_tls=True,
    # aiosmtpd's LOGIN prompts ("User Name\0") are not the "Username:" clients such as
    # Alertmanager's expect; real relays offer PLAIN, which every client speaks.
    auth_exclude_mechanism=["LOGIN"],
)
controller.start()
server = http.server.ThreadingHTTPServer(("0.0.0.0", 8080), Heartbeat)
threading.Thread(target=server.serve_forever, daemon=True).start()
say(f"mailsink: SMTP on :2525 (STARTTLS and AUTH required, user {USER}), heartbeats on :8080")
while True:
    time.sleep(3600)
