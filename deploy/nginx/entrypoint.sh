#!/bin/sh
# nginx in the swarm: wait for a certificate, start nginx, and reload it when the
# certbot service installs a new certificate (checked every 5 minutes).
set -eu

cert="${TLS_CERT:-/etc/nginx/tls/fullchain.pem}"
key="${TLS_KEY:-/etc/nginx/tls/privkey.pem}"

waited=0
while [ ! -s "$cert" ] || [ ! -s "$key" ]; do
    if [ "$waited" -ge 300 ]; then
        echo "no TLS certificate at $cert after ${waited}s (is the certbot service running?)" >&2
        exit 1
    fi
    sleep 2
    waited=$((waited + 2))
done

(
    last="$(cksum "$cert" 2>/dev/null || true)"
    while sleep 300; do
        now="$(cksum "$cert" 2>/dev/null || true)"
        if [ -n "$now" ] && [ "$now" != "$last" ]; then
            nginx -t -q && nginx -s reload && last="$now"
        fi
    done
) &

exec nginx -g 'daemon off;'
