#!/bin/sh
# TLS certificates for nginx from Let's Encrypt (ACME HTTP-01, webroot).
#
# Runs as the `certbot` swarm service (image certbot/certbot), on the same node as
# nginx, sharing two volumes with it:
#   /var/www/acme  challenge files, served by nginx on port 80
#   /tls           fullchain.pem + privkey.pem that nginx reads (minitwit/tls.conf)
#
# 1. If /tls has no certificate yet, write a short-lived self-signed placeholder,
#    so nginx can start and serve the challenge (it will not start without one).
# 2. Request the certificate (no-op while a valid one exists), copy it to /tls.
# 3. Every RENEW_INTERVAL_SECONDS, `certbot renew`; a renewed certificate is
#    copied to /tls by the deploy hook, and nginx reloads when it sees the change.
#
# Environment: DOMAINS (comma separated, required), ACME_EMAIL (required),
# ACME_STAGING=true to use the staging CA while testing, CERT_NAME (minitwit),
# RENEW_INTERVAL_SECONDS (43200).
set -eu

TLS_DIR="${TLS_DIR:-/tls}"
WEBROOT="${WEBROOT:-/var/www/acme}"
CERT_NAME="${CERT_NAME:-minitwit}"
RENEW_INTERVAL_SECONDS="${RENEW_INTERVAL_SECONDS:-43200}"
LIVE_DIR="/etc/letsencrypt/live/${CERT_NAME}"

log() { printf '{"time":"%s","level":"INFO","service":"certbot","msg":"%s"}\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }

# Copy the current certificate of the lineage into $TLS_DIR, atomically.
install_cert() {
    lineage="${RENEWED_LINEAGE:-$LIVE_DIR}"
    [ -s "$lineage/fullchain.pem" ] || return 0
    cp -L "$lineage/fullchain.pem" "$TLS_DIR/.fullchain.pem.new"
    cp -L "$lineage/privkey.pem" "$TLS_DIR/.privkey.pem.new"
    chmod 0644 "$TLS_DIR/.fullchain.pem.new"
    chmod 0600 "$TLS_DIR/.privkey.pem.new"
    mv -f "$TLS_DIR/.privkey.pem.new" "$TLS_DIR/privkey.pem"
    mv -f "$TLS_DIR/.fullchain.pem.new" "$TLS_DIR/fullchain.pem"
    log "installed certificate from $lineage"
}

placeholder_cert() {
    # certbot's image has Python with `cryptography` (certbot depends on it),
    # but not necessarily the openssl command line tool.
    python3 - "$TLS_DIR" <<'PY'
import datetime, os, sys
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

out = sys.argv[1]
key = ec.generate_private_key(ec.SECP256R1())
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "minitwit-placeholder")])
now = datetime.datetime.now(datetime.timezone.utc)
cert = (
    x509.CertificateBuilder()
    .subject_name(name)
    .issuer_name(name)
    .public_key(key.public_key())
    .serial_number(x509.random_serial_number())
    .not_valid_before(now - datetime.timedelta(minutes=5))
    .not_valid_after(now + datetime.timedelta(days=7))
    .sign(key, hashes.SHA256())
)
with open(os.path.join(out, "privkey.pem"), "wb") as f:
    f.write(key.private_bytes(serialization.Encoding.PEM,
                              serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))
with open(os.path.join(out, "fullchain.pem"), "wb") as f:
    f.write(cert.public_bytes(serialization.Encoding.PEM))
PY
    log "wrote a self-signed placeholder certificate"
}

if [ "${1:-}" = "install" ]; then
    install_cert
    exit 0
fi

: "${DOMAINS:?set DOMAINS to the comma-separated host names of the site}"
: "${ACME_EMAIL:?set ACME_EMAIL to the contact address for the ACME account}"

mkdir -p "$TLS_DIR" "$WEBROOT"
if [ ! -s "$TLS_DIR/fullchain.pem" ] || [ ! -s "$TLS_DIR/privkey.pem" ]; then
    placeholder_cert
fi

staging=""
if [ "${ACME_STAGING:-false}" = "true" ]; then
    staging="--test-cert"
fi

hook="/bin/sh $0 install"
domain_args=""
old_ifs="$IFS"
IFS=','
for d in $DOMAINS; do
    domain_args="$domain_args -d $d"
done
IFS="$old_ifs"

# First issuance: retried every 10 minutes until it works (nginx may still be
# starting); never in a tight loop, Let's Encrypt rate-limits failures.
until
    # shellcheck disable=SC2086 # word splitting of the argument lists is intended
    certbot certonly --webroot -w "$WEBROOT" --cert-name "$CERT_NAME" $domain_args \
        --email "$ACME_EMAIL" --agree-tos --non-interactive --no-eff-email \
        --keep-until-expiring $staging --deploy-hook "$hook"
do
    log "certificate request failed; retrying in 10 minutes"
    sleep 600
done
install_cert

while :; do
    sleep "$RENEW_INTERVAL_SECONDS"
    certbot renew --non-interactive --webroot -w "$WEBROOT" --deploy-hook "$hook" \
        || log "renewal failed; will retry in ${RENEW_INTERVAL_SECONDS}s"
done
