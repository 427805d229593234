#!/usr/bin/env bash
# Certificates from a real ACME CA: deploy/certbot/certbot.sh and deploy/nginx (its
# entrypoint and the shipped site config) against Debian's pebble, Let's Encrypt's
# ACME test server, configured only by the settings an operator also has
# (ACME_SERVER, ACME_CA_FILE, DOMAINS, ...):
#
#   1. before any CA answers, certbot.sh writes the self-signed placeholder, nginx
#      starts on it, and the failed requests back off (1, 2, 4, 4 s here; 15 min
#      doubling to 6 h by default); the served certificate's expiry, probed by
#      Debian's blackbox exporter, fires MinitwitCertificateExpiresSoon in a real
#      Prometheus with deploy/prometheus/alerts.yml and the stack's probe job;
#   2. CA "staging" (a pebble) comes up: issuance through the HTTP-01 challenge that
#      nginx serves from the shared webroot, and nginx serves the new certificate
#      (its chain verifies against that CA) within seconds; the alert resolves;
#   3. the switch to CA "production" (another pebble, its own root; ACME_SERVER
#      changed and certbot.sh restarted, as a stack update does): the certificate
#      from "staging" is replaced at once, not kept until it is due;
#   4. renewal before expiry: "production" issues certificates valid 20 days, inside
#      certbot's 30-day renewal window, so the renewal loop replaces it (a new serial,
#      same CA) and nginx serves the renewed one;
#   5. a CA file that cannot be read stops certbot.sh with its setting named.
#
# Name resolution for the CA's validation comes from pebble-challtestsrv's DNS
# (every name is 127.0.0.1); nginx listens on free ports, pebble validates on the
# HTTP one. Nothing here needs Docker.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$PWD"

# shellcheck source=tests/lib/apt.sh
. tests/lib/apt.sh
# shellcheck source=tests/lib/certs.sh
. tests/lib/certs.sh
# shellcheck source=tests/lib/ports.sh
. tests/lib/ports.sh
# shellcheck source=tests/lib/nginx.sh
. tests/lib/nginx.sh
# shellcheck source=tests/lib/acme.sh
. tests/lib/acme.sh
need_pkg pebble pebble pebble-challtestsrv pebble certbot certbot /usr/sbin/nginx nginx-light \
    prometheus-blackbox-exporter prometheus-blackbox-exporter /usr/bin/prometheus prometheus
for tool in curl jq openssl python3; do
    command -v "$tool" >/dev/null || { echo "certificates: $tool is required" >&2; exit 1; }
done

work="$(mktemp -d "${TMPDIR:-/tmp}/minitwit-certificates.XXXXXX")"
chmod 0755 "$work" # nginx's workers (nobody) read the challenge files below it
domain="minitwit.test"
pids=()
certbot_pid=""
passed=0
failed=0
cleanup() {
    local status=$? pid
    [ -z "$certbot_pid" ] || kill -TERM "$certbot_pid" 2>/dev/null || true
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}" $certbot_pid; do wait "$pid" 2>/dev/null || true; done
    if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ]; then
        for log in certbot.log nginx.log pebble-staging.log pebble-production.log; do
            echo "--- last lines of $log" >&2
            tail -n 20 "$work/$log" >&2 2>/dev/null || true
        done
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=tests/lib/check.sh
. tests/lib/check.sh

read -r port_http port_https port_dns port_dns_mgmt port_staging port_staging_mgmt \
    port_production port_production_mgmt port_blackbox port_prom <<<"$(free_ports 10)"

# ---- the peers: DNS, two CAs, nginx ------------------------------------------------------
test_ca "$work/pki"
test_cert "$work/pki" pebble "DNS:localhost,IP:127.0.0.1" serverAuth
acme_dns "127.0.0.1:$port_dns" "127.0.0.1:$port_dns_mgmt" 127.0.0.1 "$work/dns.log"
pids+=("$ACME_DNS_PID")

# start_ca NAME PORT MANAGEMENT_PORT VALIDITY_SECONDS: a pebble with its own root
start_ca() {
    CURL_CA_BUNDLE="$work/pki/ca.pem" acme_ca "$work" "$1" 127.0.0.1 "$2" "$3" "$port_http" \
        "127.0.0.1:$port_dns" "$work/pki/pebble.pem" "$work/pki/pebble-key.pem" "$4"
    local status=$?
    pids+=("$ACME_CA_PID")
    return "$status"
}

mkdir -p "$work/tls" "$work/acme" "$work/bin"
nginx_local_copy "$repo/deploy/nginx" "$work/nginx" "$port_http" "$port_https" "$work/tls" "$work/acme"
# The entrypoint runs `nginx`, `nginx -t` and `nginx -s reload`: the same on the copy.
printf '#!/bin/sh\nexec /usr/sbin/nginx -c %s "$@"\n' "$work/nginx/nginx.conf" >"$work/bin/nginx"
chmod +x "$work/bin/nginx"

# certbot.sh as the stack runs it, its state in $work; ACME_SERVER is the argument.
run_certbot() {
    env DOMAINS="$domain" ACME_EMAIL="ops@$domain" ACME_SERVER="$1" ACME_CA_FILE="$work/pki/ca.pem" \
        TLS_DIR="$work/tls" WEBROOT="$work/acme" LETSENCRYPT_DIR="$work/letsencrypt" \
        CERTBOT_WORK_DIR="$work/certbot-work" CERTBOT_LOGS_DIR="$work/certbot-logs" \
        ACME_RETRY_SECONDS=1 ACME_RETRY_MAX_SECONDS=4 RENEW_INTERVAL_SECONDS=3 \
        sh "$repo/deploy/certbot/certbot.sh" >>"$work/certbot.log" 2>&1 &
    certbot_pid=$!
}
stop_certbot() {
    kill -TERM "$certbot_pid" 2>/dev/null || true
    wait "$certbot_pid" 2>/dev/null || true
    certbot_pid=""
}
staging="https://127.0.0.1:$port_staging/dir"
production="https://127.0.0.1:$port_production/dir"

# served FIELD: the subject, issuer or serial of the certificate nginx serves
served() {
    openssl s_client -connect "127.0.0.1:$port_https" -servername "$domain" </dev/null 2>/dev/null |
        openssl x509 -noout "-$1" 2>/dev/null
}
# verifies ROOT: the served chain verifies for the domain against ROOT alone
verifies() {
    openssl s_client -connect "127.0.0.1:$port_https" -servername "$domain" -verify_hostname "$domain" \
        -CAfile "$1" -verify_return_error </dev/null >/dev/null 2>&1
}
serial_changed_from() { local now; now="$(served serial)"; [ -n "$now" ] && [ "$now" != "$1" ]; }

# ---- 1. the placeholder, back-off, the expiry alert -----------------------------------
echo "== certificates (pebble $(dpkg-query -W -f '${Version}' pebble), certbot $(certbot --version 2>&1 | cut -d' ' -f2))"
run_certbot "$staging" # nothing answers there yet
env PATH="$work/bin:$PATH" GRAFANA_ALLOW_FILE="$work/nginx/minitwit/grafana_allow.conf" \
    TLS_CERT="$work/tls/fullchain.pem" TLS_KEY="$work/tls/privkey.pem" TLS_POLL_SECONDS=1 \
    TLS_WAIT_SECONDS=30 sh "$repo/deploy/nginx/entrypoint.sh" >"$work/nginx.log" 2>&1 &
pids+=($!)
placeholder_served() { [ "$(served subject)" = "subject=CN = minitwit-placeholder" ]; }
check "nginx starts on the placeholder certbot.sh writes" wait_for 40 placeholder_served

# The stack's probe job and the exporter's module, pointed at the local nginx.
python3 - "$repo" "$work" "$port_blackbox" "$port_https" <<'PY'
import sys, yaml
repo, work, blackbox, https = sys.argv[1:]
prom = yaml.safe_load(open(f"{repo}/deploy/prometheus/prometheus.yml"))
job = next(j for j in prom["scrape_configs"] if j["job_name"] == "tls-certificate")
job["static_configs"] = [{"targets": [f"127.0.0.1:{https}"]}]
for rule in job["relabel_configs"]:
    if rule.get("target_label") == "__address__":
        rule["replacement"] = f"127.0.0.1:{blackbox}"
config = {"global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
          "rule_files": [f"{repo}/deploy/prometheus/alerts.yml"], "scrape_configs": [job]}
yaml.safe_dump(config, open(f"{work}/prometheus.yml", "w"))
PY
prometheus-blackbox-exporter --config.file="$repo/deploy/blackbox/blackbox.yml" \
    --web.listen-address="127.0.0.1:$port_blackbox" >"$work/blackbox.log" 2>&1 &
pids+=($!)
/usr/bin/prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prometheus-data" \
    --web.listen-address="127.0.0.1:$port_prom" >"$work/prometheus.log" 2>&1 &
pids+=($!)
alert_state() {
    curl -fsS --max-time 5 "http://127.0.0.1:$port_prom/api/v1/alerts" 2>/dev/null |
        jq -r --arg n "$1" '[.data.alerts[] | select(.labels.alertname == $n) | .state] | first // "inactive"'
}
alert_is() { [ "$(alert_state "$1")" = "$2" ]; }
check "the placeholder (7 days) fires MinitwitCertificateExpiresSoon" wait_for 60 alert_is MinitwitCertificateExpiresSoon firing

retries() { grep -o 'failed; retrying in [0-9]*s' "$work/certbot.log" | grep -o '[0-9]*s$' | tr '\n' ' '; }
backed_off() { [[ "$(retries)" == "1s 2s 4s 4s "* ]]; }
check "failed requests back off: 1 2 4 4 s (ACME_RETRY_SECONDS=1, ACME_RETRY_MAX_SECONDS=4)" \
    wait_for 60 backed_off

# ---- 2. issuance from "staging" ---------------------------------------------------------
t0=$SECONDS
check "CA 'staging' answers" start_ca staging "$port_staging" "$port_staging_mgmt" $((60 * 86400))
check "nginx serves a certificate for $domain from 'staging' (HTTP-01 through nginx)" \
    wait_for 60 verifies "$work/root-staging.pem"
issuance_seconds=$((SECONDS - t0))
echo "     issued and served ${issuance_seconds} s after the CA came up (back-off at most 4 s)"
check "the challenge was answered by nginx from the webroot" \
    grep -q '"uri":"/.well-known/acme-challenge/[^"]*","status":"200"' "$work/nginx.log"
check "MinitwitCertificateExpiresSoon resolves (60 days left)" wait_for 60 alert_is MinitwitCertificateExpiresSoon inactive
first_serial="$(served serial)"
sleep 4 # a renewal round: a certificate 60 days from expiry is not renewed
check "not renewed while more than 30 days are left" test "$(served serial)" = "$first_serial"

# ---- 3. the switch to "production" -------------------------------------------------------
stop_certbot
check "CA 'production' answers" start_ca production "$port_production" "$port_production_mgmt" $((20 * 86400))
t0=$SECONDS
run_certbot "$production"
check "after the switch nginx serves a certificate from 'production' at once" \
    wait_for 60 verifies "$work/root-production.pem"
echo "     replaced $((SECONDS - t0)) s after certbot.sh restarted"
check "certbot.sh said why it replaced a valid certificate" \
    grep -q "the certificate came from $staging; replacing it with one from $production" "$work/certbot.log"

# ---- 4. renewal before expiry -----------------------------------------------------------
second_serial="$(served serial)"
check "the 20-day certificate is renewed by the renewal loop and served" \
    wait_for 60 serial_changed_from "$second_serial"
check "the renewed certificate is from 'production' too" verifies "$work/root-production.pem"
check "MinitwitCertificateExpiresSoon stays inactive (20 days left)" alert_is MinitwitCertificateExpiresSoon inactive
stop_certbot

# ---- 5. a bad setting ---------------------------------------------------------------------
bad_ca() {
    ! env DOMAINS="$domain" ACME_EMAIL="ops@$domain" ACME_CA_FILE="$work/none.pem" TLS_DIR="$work/tls" \
        WEBROOT="$work/acme" LETSENCRYPT_DIR="$work/letsencrypt" sh "$repo/deploy/certbot/certbot.sh" \
        >"$work/bad.log" 2>&1 && grep -q "ACME_CA_FILE points at $work/none.pem" "$work/bad.log"
}
check "an unreadable ACME_CA_FILE stops certbot.sh, naming the setting" bad_ca
# refused_setting NAME=VALUE TEXT: certbot.sh stops before asking any CA, saying TEXT
refused_setting() {
    ! env DOMAINS="$domain" ACME_EMAIL="ops@$domain" "$1" TLS_DIR="$work/tls" WEBROOT="$work/acme" \
        LETSENCRYPT_DIR="$work/letsencrypt" sh "$repo/deploy/certbot/certbot.sh" >"$work/bad.log" 2>&1 &&
        grep -q "$2" "$work/bad.log"
}
check "ACME_STAGING other than true or false is refused" refused_setting ACME_STAGING=yes "ACME_STAGING must be true or false"
check "a back-off that is not whole seconds is refused" refused_setting ACME_RETRY_SECONDS=15m "are whole seconds, not '15m'"

echo "certificates: issuance ${issuance_seconds} s; $passed passed, $failed failed"
[ "$failed" -eq 0 ]
