#!/bin/sh
# nginx in the swarm: write Grafana's client allow-list, wait for a certificate,
# start nginx, and reload it when the certbot service installs a new certificate.
#
# GRAFANA_ALLOW_LIST: the client addresses (IPs or CIDRs, separated by commas or
# spaces; `all` for everyone) that may open /grafana/; others get 403. Unset or
# empty: private networks and loopback only (operators come through a VPN or an SSH
# tunnel). It becomes `allow` lines in GRAFANA_ALLOW_FILE, which site.conf includes;
# `minitwit-nginx.sh --render-only` writes that file and stops (deploy/nginx/test.sh).
#
# certbot writes a placeholder within seconds of its start, so the wait is short
# (TLS_WAIT_SECONDS, 60) and fits inside the health check's start period in
# docker-stack.yml (90 s): a missing certificate fails the task, it is not left
# "unhealthy" for minutes. The certificate is compared every TLS_POLL_SECONDS (10;
# a checksum of a small file), so a newly issued one is served within seconds,
# well inside a deploy's smoke test.
set -eu

default_grafana_allow="10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 127.0.0.0/8 fc00::/7 ::1"
grafana_allow="${GRAFANA_ALLOW_LIST:-$default_grafana_allow}"
allow_file="${GRAFANA_ALLOW_FILE:-/etc/nginx/minitwit/grafana_allow.conf}"
mkdir -p "$(dirname "$allow_file")"
refuse_allow_list() {
    rm -f "$allow_file.new"
    echo "GRAFANA_ALLOW_LIST: $1" >&2
    exit 1
}
set -f # `*` and friends are refused below, never expanded
entries=0
{
    echo "# written by minitwit-nginx.sh from GRAFANA_ALLOW_LIST"
    for entry in $(printf '%s' "$grafana_allow" | tr ',' ' '); do
        case "$entry" in
            all) echo "allow all;" ;;
            # IPv4, IPv6 and a prefix length: nothing that could end the directive
            # (nginx -t then checks each one is an address or network)
            *[!0-9A-Fa-f:./]*) refuse_allow_list "not an IP address or CIDR: '$entry'" ;;
            *) echo "allow $entry;" ;;
        esac
        entries=$((entries + 1))
    done
    echo "deny all;"
} >"$allow_file.new"
set +f
[ "$entries" -gt 0 ] || refuse_allow_list "no address in '$grafana_allow' (unset it for the default)"
mv "$allow_file.new" "$allow_file"
if [ "${1:-}" = "--render-only" ]; then
    exit 0
fi

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
