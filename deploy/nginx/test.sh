#!/usr/bin/env bash
# Checks the nginx configuration with Debian's nginx (`nginx -t`), outside Docker.
#
# The production config points at swarm service names (gateway, grafana), at the
# certificate the certbot service maintains and at ports 80 and 443; none of them is
# here. So this script copies deploy/nginx to a temporary directory with those
# replaced (tests/lib/nginx.sh: local upstreams, a self-signed certificate made for
# the test, free local ports), runs `nginx -t` on the copy, then runs it. Everything
# else is checked exactly as shipped.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# shellcheck source=tests/lib/apt.sh
. "$here/../../tests/lib/apt.sh"
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
if [ ! -x "$nginx_bin" ]; then
    echo "nginx not found: installing Debian's nginx" >&2
    apt_install nginx-light || apt_install nginx # nginx-light where Debian still has it
fi
need_pkg openssl openssl

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=minitwit.test" \
    -keyout "$work/privkey.pem" -out "$work/fullchain.pem" 2>/dev/null
# shellcheck source=tests/lib/ports.sh
. "$here/../../tests/lib/ports.sh"
# shellcheck source=tests/lib/nginx.sh
. "$here/../../tests/lib/nginx.sh"
# free local ports instead of 80 and 443, local upstreams, the certificate above
read -r http_port https_port <<<"$(free_ports 2)"
nginx_local_copy "$here" "$work" "$http_port" "$https_port" "$work" "$work/acme"

# Grafana's allow-list, written by the entrypoint as in the swarm: first the
# default (no GRAFANA_ALLOW_LIST), which the shipped config is checked with.
render_grafana_allow() { # render_grafana_allow [LIST]: the entrypoint's --render-only
    (
        unset GRAFANA_ALLOW_LIST
        if [ $# -gt 0 ]; then export GRAFANA_ALLOW_LIST="$1"; fi
        GRAFANA_ALLOW_FILE="$work/minitwit/grafana_allow.conf" sh "$here/entrypoint.sh" --render-only
    )
}
render_grafana_allow
grep -qx 'allow 10.0.0.0/8;' "$work/minitwit/grafana_allow.conf" \
    && [ "$(tail -n 1 "$work/minitwit/grafana_allow.conf")" = "deny all;" ] \
    || { echo "test.sh: the default Grafana allow-list is not private networks, then deny" >&2; exit 1; }

"$nginx_bin" -t -c "$work/nginx.conf" 2>&1
echo "nginx -t: configuration OK ($("$nginx_bin" -v 2>&1))"

# A bad GRAFANA_ALLOW_LIST stops the entrypoint naming it (what could end the
# directive), or fails nginx -t (well-formed characters, no address).
for bad in '10.0.0.0/8;allow all' '*' 'localhost' ' , '; do
    if out="$(render_grafana_allow "$bad" 2>&1)" || [[ "$out" != *GRAFANA_ALLOW_LIST* ]]; then
        echo "FAILED: GRAFANA_ALLOW_LIST='$bad' was not refused by name: $out" >&2
        exit 1
    fi
done
render_grafana_allow '10.0.0.0/99'
if "$nginx_bin" -t -q -c "$work/nginx.conf" 2>/dev/null; then
    echo "FAILED: nginx -t took GRAFANA_ALLOW_LIST=10.0.0.0/99" >&2
    exit 1
fi
echo "ok: bad Grafana allow-lists are refused"
# The running copy lets 127.0.0.1 in and keeps 127.0.0.2 out.
render_grafana_allow '127.0.0.1, 192.0.2.0/24'

# Then the same copy runs and answers what it answers itself (no gateway behind
# it: anything passed on is a 502).
"$nginx_bin" -c "$work/nginx.conf" -g "daemon off;" >"$work/nginx.log" 2>&1 &
nginx_pid=$!
trap 'kill "$nginx_pid" 2>/dev/null; wait "$nginx_pid" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$http_port/nginx-health" && break
    sleep 0.1
done

failed=0
expect() { # expect STATUS METHOD PATH [CLIENT_ADDRESS], over HTTPS
    local want="$1" method="$2" path="$3" from="${4:-127.0.0.1}" got
    got="$(curl -sk --interface "$from" -o /dev/null -w '%{http_code}' -X "$method" \
        "https://127.0.0.1:$https_port$path")"
    if [ "$got" = "$want" ]; then
        echo "ok: $method $path from $from -> $got"
    else
        echo "FAILED: $method $path from $from -> $got, expected $want" >&2
        failed=1
    fi
}
# Issue 12: invented method names never reach the gateway (metric series).
expect 405 FOO /
expect 405 BAR /msgs
# (nginx itself refuses a method name that is not upper case with 400.)
expect 400 get /public
# Issue 12: /ready and /metrics are answered only inside the swarm.
expect 404 GET /ready
expect 404 GET /ready?x=1
expect 404 GET /metrics
# Issue 12, finding 9: Grafana only for the addresses of GRAFANA_ALLOW_LIST (here
# 127.0.0.1; passed on, to no Grafana: 502); anyone else gets 403.
expect 502 GET /grafana/login
expect 403 GET /grafana/login 127.0.0.2
expect 403 GET /grafana/api/health 127.0.0.2
expect 403 POST /grafana/login 127.0.0.2
# The rest of the site is everyone's.
expect 502 GET /public 127.0.0.2
# Everything else is passed on (here: to no gateway).
expect 502 GET /public
expect 502 POST /msgs/a
got="$(curl -s -o /dev/null -w '%{http_code}' -X FOO "http://127.0.0.1:$http_port/")"
[ "$got" = 405 ] || { echo "FAILED: FOO over http -> $got, expected 405" >&2; failed=1; }
if [ "$failed" != 0 ]; then
    cat "$work/nginx.log" >&2
    exit 1
fi
echo "nginx: refuses unknown methods, hides internal endpoints, keeps Grafana to its allow-list"
