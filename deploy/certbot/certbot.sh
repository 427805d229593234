#!/bin/sh
# TLS certificates for nginx from an ACME CA (Let's Encrypt), HTTP-01 through webroot.
#
# Runs as the `certbot` swarm service (image certbot/certbot), on the same node as
# nginx, sharing two volumes with it:
#   /var/www/acme  challenge files, served by nginx on port 80
#   /tls           fullchain.pem + privkey.pem that nginx reads (minitwit/tls.conf)
#
# 1. If /tls has no certificate yet, write a short-lived self-signed placeholder,
#    so nginx can start and serve the challenge (it will not start without one).
# 2. Request the certificate (no-op while a valid one from the same CA exists), copy
#    it to /tls. A failed request is retried after ACME_RETRY_SECONDS, doubling up
#    to ACME_RETRY_MAX_SECONDS: with the defaults (15 min, 6 h) at most 3 attempts
#    fall in any hour, under Let's Encrypt's limit of 5 failed validations per
#    host name and hour, and a broken DNS record costs one attempt per 6 h.
# 3. Every RENEW_INTERVAL_SECONDS, `certbot renew` (it renews within 30 days of
#    expiry); a renewed certificate is copied to /tls by the deploy hook, and nginx
#    reloads when it sees the change.
#
# Switching CA (ACME_STAGING=true to false, or another ACME_SERVER): the
# certificate of the lineage came from another directory than the one configured,
# so it is replaced at once (certbot alone would keep the staging certificate until
# it is due for renewal).
#
# Environment: DOMAINS (comma separated, required), ACME_EMAIL (required);
# ACME_SERVER, the ACME directory URL (Let's Encrypt's production directory, or its
# staging one when ACME_STAGING=true); ACME_CA_FILE, a CA bundle to trust for the
# ACME server instead of the system's (a private CA such as step-ca or pebble);
# CERT_NAME (minitwit); RENEW_INTERVAL_SECONDS (43200); ACME_RETRY_SECONDS (900);
# ACME_RETRY_MAX_SECONDS (21600); LETSENCRYPT_DIR (/etc/letsencrypt),
# CERTBOT_WORK_DIR (/var/lib/letsencrypt), CERTBOT_LOGS_DIR (/var/log/letsencrypt).
set -eu

TLS_DIR="${TLS_DIR:-/tls}"
WEBROOT="${WEBROOT:-/var/www/acme}"
CERT_NAME="${CERT_NAME:-minitwit}"
RENEW_INTERVAL_SECONDS="${RENEW_INTERVAL_SECONDS:-43200}"
LETSENCRYPT_DIR="${LETSENCRYPT_DIR:-/etc/letsencrypt}"
LIVE_DIR="$LETSENCRYPT_DIR/live/${CERT_NAME}"
RENEWAL_CONF="$LETSENCRYPT_DIR/renewal/${CERT_NAME}.conf"
LE_PRODUCTION="https://acme-v02.api.letsencrypt.org/directory"
LE_STAGING="https://acme-staging-v02.api.letsencrypt.org/directory"

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

case "${ACME_STAGING:-false}" in
    true) default_server="$LE_STAGING" ;;
    false | "") default_server="$LE_PRODUCTION" ;;
    *) echo "ACME_STAGING must be true or false, not '$ACME_STAGING'" >&2; exit 2 ;;
esac
ACME_SERVER="${ACME_SERVER:-$default_server}"
if [ -n "${ACME_CA_FILE:-}" ]; then
    [ -r "$ACME_CA_FILE" ] || { echo "ACME_CA_FILE points at $ACME_CA_FILE, which is not readable" >&2; exit 2; }
    # certbot speaks ACME through python-requests, which trusts this bundle
    export REQUESTS_CA_BUNDLE="$ACME_CA_FILE"
fi
retry_seconds="${ACME_RETRY_SECONDS:-900}"
retry_max="${ACME_RETRY_MAX_SECONDS:-21600}"
for v in "$retry_seconds" "$retry_max" "$RENEW_INTERVAL_SECONDS"; do
    case "$v" in
        '' | *[!0-9]*) echo "ACME_RETRY_SECONDS, ACME_RETRY_MAX_SECONDS and RENEW_INTERVAL_SECONDS are whole seconds, not '$v'" >&2; exit 2 ;;
    esac
done

dirs="--config-dir $LETSENCRYPT_DIR --work-dir ${CERTBOT_WORK_DIR:-/var/lib/letsencrypt} --logs-dir ${CERTBOT_LOGS_DIR:-/var/log/letsencrypt}"
hook="/bin/sh $0 install"
domain_args=""
old_ifs="$IFS"
IFS=','
for d in $DOMAINS; do
    domain_args="$domain_args -d $d"
done
IFS="$old_ifs"

# The directory the lineage's certificate came from, as certbot recorded it.
lineage_server() {
    [ -f "$RENEWAL_CONF" ] || return 0
    sed -n 's/^server *= *//p' "$RENEWAL_CONF" | head -n 1
}

# First issuance, or a new CA: retried with back-off until it works (nginx may
# still be starting, DNS may not point here yet).
delay="$retry_seconds"
while :; do
    replace=""
    previous="$(lineage_server)"
    if [ -n "$previous" ] && [ "$previous" != "$ACME_SERVER" ]; then
        log "the certificate came from $previous; replacing it with one from $ACME_SERVER"
        replace="--force-renewal"
    fi
    # shellcheck disable=SC2086 # word splitting of the argument lists is intended
    if certbot certonly $dirs --webroot -w "$WEBROOT" --cert-name "$CERT_NAME" $domain_args \
        --server "$ACME_SERVER" --email "$ACME_EMAIL" --agree-tos --non-interactive \
        --no-eff-email --keep-until-expiring $replace --deploy-hook "$hook"; then
        break
    fi
    log "certificate request to $ACME_SERVER failed; retrying in ${delay}s"
    sleep "$delay"
    delay=$((delay * 2))
    if [ "$delay" -gt "$retry_max" ]; then delay="$retry_max"; fi
done
install_cert

while :; do
    sleep "$RENEW_INTERVAL_SECONDS"
    # shellcheck disable=SC2086 # word splitting of the argument list is intended
    # no random sleep (certbot adds up to 8 minutes when not on a terminal, for cron
    # jobs that all start on the hour): this loop starts when the service does
    certbot renew $dirs --non-interactive --no-random-sleep-on-renew --webroot -w "$WEBROOT" --deploy-hook "$hook" \
        || log "renewal failed; will retry in ${RENEW_INTERVAL_SECONDS}s"
done
