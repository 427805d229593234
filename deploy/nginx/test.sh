#!/usr/bin/env bash
# Checks the nginx configuration with Debian's nginx (`nginx -t`), outside Docker.
#
# The production config points at swarm service names (gateway, grafana) and at
# the certificate the certbot service maintains; neither exists here. So this
# script copies deploy/nginx to a temporary directory, replaces the two small
# include files that hold those (minitwit/upstream.conf, minitwit/tls.conf) with
# local equivalents and a self-signed certificate made for the test, and runs
# `nginx -t` on the copy. Everything else is checked exactly as shipped.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    echo "nginx not found: installing Debian's nginx" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null \
        || as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
fi
if ! command -v openssl >/dev/null 2>&1; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null
fi
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cp -R "$here/." "$work/"
rm -f "$work/test.sh"
# mime.types ships with nginx (the official image has it in /etc/nginx too).
cp /etc/nginx/mime.types "$work/mime.types"

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=minitwit.test" \
    -keyout "$work/privkey.pem" -out "$work/fullchain.pem" 2>/dev/null

cat >"$work/minitwit/tls.conf" <<CONF
ssl_certificate     $work/fullchain.pem;
ssl_certificate_key $work/privkey.pem;
CONF

# Same upstream names and options, local addresses.
sed -e 's|http://tasks.gateway:8080|http://127.0.0.1:8080|' \
    -e 's|http://grafana:3000|http://127.0.0.1:3000|' \
    "$here/minitwit/upstream.conf" >"$work/minitwit/upstream.conf"
if grep -Eq 'http://(tasks\.gateway|grafana):' "$work/minitwit/upstream.conf"; then
    echo "test.sh: upstream substitution failed" >&2
    exit 1
fi

"$nginx_bin" -t -c "$work/nginx.conf" -g "pid $work/nginx.pid;" 2>&1
echo "nginx -t: configuration OK ($("$nginx_bin" -v 2>&1))"
