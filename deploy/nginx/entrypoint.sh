#!/bin/sh
# nginx in the swarm: wait for a certificate, start nginx, and reload it when the
# certbot service installs a new certificate.
#
# certbot writes a placeholder within seconds of its start, so the wait is short
# (TLS_WAIT_SECONDS, 60) and fits inside the health check's start period in
# docker-stack.yml (90 s): a missing certificate fails the task, it is not left
# "unhealthy" for minutes. The certificate is compared every TLS_POLL_SECONDS (10;
# a checksum of a small file), so a newly issued one is served within seconds,
# well inside a deploy's smoke test.
set -eu

cert="${TLS_CERT:-/etc/nginx/tls/fullchain.pem}"
key="${TLS_KEY:-/etc/nginx/tls/privkey.pem}"

wait_seconds="${TLS_WAIT_SECONDS:-60}"
poll_seconds="${TLS_POLL_SECONDS:-10}"

waited=0
while [ ! -s "$cert" ] || [ ! -s "$key" ]; do
    if [ "$waited" -ge "$wait_seconds" ]; then
        echo "no TLS certificate at $cert after ${waited}s (is the certbot service running?)" >&2
        exit 1
    fi
    sleep 2
    waited=$((waited + 2))
done

(
    last="$(cksum "$cert" 2>/dev/null || true)"
    while sleep "$poll_seconds"; do
        now="$(cksum "$cert" 2>/dev/null || true)"
        if [ -n "$now" ] && [ "$now" != "$last" ]; then
            nginx -t -q && nginx -s reload && last="$now" \
                && echo "new TLS certificate: nginx reloaded"
        fi
    done
) &

exec nginx -g 'daemon off;'
