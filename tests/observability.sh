#!/usr/bin/env bash
# Observability, end to end, with the real binaries and Debian's real Prometheus:
#
#   1. fresh PostgreSQL databases (owned by a throwaway role with a password), then
#      user-, message-, follow-service and the gateway on free ports with JSON logs
#      (stdout of each captured), a non-default simulator Authorization value and a
#      session key from files;
#   2. a private node exporter and Prometheus (scrape every 1 s, the jobs of
#      deploy/prometheus/prometheus.yml, the rules of deploy/prometheus/alerts.yml);
#   3. tests/observability/check.py (each phase a module of tests/observability/obs/):
#      traffic through the gateway (simulator API and web UI, our own X-Request-Ids),
#      /metrics of all four processes, ~20 s of load, every PromQL expression of every
#      dashboard panel and alert rule through Prometheus's HTTP API (see
#      tests/observability/no-data-ok.txt for the allowed exceptions),
#      a follow-service outage, and the logs (JSON, request ids, no secrets).
#
# Environment: BIN_DIR (target/debug) holds the binaries; MINITWIT_TEST_DATABASE_URL
# (postgres://postgres@127.0.0.1:5432/postgres) is an admin connection.
# OBS_LOAD_SECONDS (20) is the length of the load phase; OBS_KEEP_WORK=1 keeps the
# temporary directory (logs, Prometheus config) for a post-mortem.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$PWD"
me="observability"

bin_dir="${BIN_DIR:-target/debug}"
case "$bin_dir" in /*) ;; *) bin_dir="$repo/$bin_dir" ;; esac
admin_url="${MINITWIT_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
services=(user-service message-service follow-service gateway)

# ---- tools ---------------------------------------------------------------------
# shellcheck source=tests/lib/apt.sh
. "$repo/tests/lib/apt.sh"
need_pkg psql postgresql-client /usr/bin/prometheus prometheus /usr/bin/promtool prometheus \
    /usr/bin/prometheus-node-exporter prometheus-node-exporter
for tool in curl python3 psql; do
    command -v "$tool" >/dev/null || { echo "$me: $tool is required" >&2; exit 1; }
done

missing=0
for s in "${services[@]}"; do [ -x "$bin_dir/$s" ] || missing=1; done
if [ "$missing" -eq 1 ]; then
    echo "$me: binaries missing in $bin_dir; cargo build --bins"
    cargo build --bins
    bin_dir="$repo/target/debug"
fi

# ---- state and clean-up ----------------------------------------------------------
suffix="$(date +%s)_$$"
role="mt_obs_$suffix"
databases=("mt_obs_users_$suffix" "mt_obs_messages_$suffix" "mt_obs_follows_$suffix")
work="$(mktemp -d "${TMPDIR:-/tmp}/minitwit-observability.XXXXXX")"
pids=()
role_made=0

cleanup() {
    local status=$? pid db
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    for db in "${databases[@]}"; do
        psql "$admin_url" -X -q -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
    done
    if [ "$role_made" -eq 1 ]; then
        psql "$admin_url" -X -q -c "DROP ROLE IF EXISTS \"$role\"" >/dev/null 2>&1 || true
    fi
    if [ "$status" -ne 0 ]; then
        echo "$me: FAILED; last lines of each process:" >&2
        for s in "${services[@]}" prometheus node-exporter; do
            if [ -f "$work/$s.log" ]; then echo "--- $s stdout" >&2; tail -n 8 "$work/$s.log" >&2; fi
            if [ -s "$work/$s.err" ]; then echo "--- $s stderr" >&2; tail -n 8 "$work/$s.err" >&2; fi
        done
    fi
    if [ "${OBS_KEEP_WORK:-0}" = 1 ]; then
        echo "$me: kept $work" >&2
    else
        rm -rf "$work"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- databases ---------------------------------------------------------------------
# A role of our own with a password, so the test also proves the database password
# never reaches a log line; the admin user when the server refuses CREATE ROLE.
db_password="DbPw$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
if psql "$admin_url" -X -q -v ON_ERROR_STOP=1 \
    -c "CREATE ROLE \"$role\" LOGIN PASSWORD '$db_password'" >/dev/null 2>&1; then
    role_made=1
    owner="$role"
else
    echo "$me: cannot create a role; the services use the admin connection"
    db_password=""
    owner=""
fi
for db in "${databases[@]}"; do
    psql "$admin_url" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$db\"${owner:+ OWNER \"$owner\"}" >/dev/null
done
# shellcheck source=tests/lib/pg_url.sh
. tests/lib/pg_url.sh
db_url() { pg_db_url "$admin_url" "$1" "$owner" "$db_password"; } # db_url DB: the services' URL

# ---- processes -------------------------------------------------------------------
# shellcheck source=tests/lib/ports.sh
. tests/lib/ports.sh
read -r port_user port_message port_follow port_gateway port_prom port_node < <(free_ports 6)

# A simulator credential that is not the course default, and a session key.
python3 - "$work" <<'PY'
import base64, secrets, sys
work = sys.argv[1]
cred = "obs-sim-%s:%s" % (secrets.token_hex(4), secrets.token_hex(12))
with open(work + "/sim_authorization", "w") as f:
    f.write("Basic " + base64.b64encode(cred.encode()).decode() + "\n")
with open(work + "/session_key", "w") as f:
    f.write(secrets.token_hex(48) + "\n")
PY

start() {
    # start NAME ENV...: runs $bin_dir/NAME with ENV, stdout and stderr to files
    local name="$1"; shift
    env "$@" "$bin_dir/$name" >"$work/$name.log" 2>"$work/$name.err" &
    pids+=($!)
}
start user-service USER_SERVICE_HTTP__PORT="$port_user" USER_SERVICE_LOG__FORMAT=json \
    USER_SERVICE_DATABASE__URL="$(db_url "${databases[0]}")" \
    USER_SERVICE_ARGON2__MEMORY_KIB=64 USER_SERVICE_ARGON2__ITERATIONS=1
start message-service MESSAGE_SERVICE_HTTP__PORT="$port_message" MESSAGE_SERVICE_LOG__FORMAT=json \
    MESSAGE_SERVICE_DATABASE__URL="$(db_url "${databases[1]}")"
start follow-service FOLLOW_SERVICE_HTTP__PORT="$port_follow" FOLLOW_SERVICE_LOG__FORMAT=json \
    FOLLOW_SERVICE_DATABASE__URL="$(db_url "${databases[2]}")"
pid_follow="${pids[-1]}" # the outage check stops it
# A generous upstream time-out: debug builds on a busy CI machine must not turn the
# load phase into 503s (latency is not what this test is about).
start gateway GATEWAY_HTTP__PORT="$port_gateway" GATEWAY_LOG__FORMAT=json GATEWAY_SERVICES__TIMEOUT_MS=3000 \
    GATEWAY_SERVICES__USER_URL="http://127.0.0.1:$port_user" \
    GATEWAY_SERVICES__MESSAGE_URL="http://127.0.0.1:$port_message" \
    GATEWAY_SERVICES__FOLLOW_URL="http://127.0.0.1:$port_follow" \
    GATEWAY_SIM__AUTHORIZATION_FILE="$work/sim_authorization" \
    GATEWAY_SESSION__KEY_FILE="$work/session_key"

# shellcheck source=tests/lib/ready.sh
. tests/lib/ready.sh
ports=("$port_user" "$port_message" "$port_follow" "$port_gateway") # as services and pids
for i in "${!services[@]}"; do
    wait_ready --pid "${pids[$i]}" "http://127.0.0.1:${ports[$i]}/ready" 60
done
echo "$me: services ready (gateway on $port_gateway)"

# ---- node exporter and Prometheus ------------------------------------------------
/usr/bin/prometheus-node-exporter --web.listen-address="127.0.0.1:$port_node" --no-collector.systemd \
    >"$work/node-exporter.log" 2>&1 &
pids+=($!)

# Job names as in deploy/prometheus/prometheus.yml (the dashboards and alerts use
# them); static targets instead of swarm DNS; the real alert rules.
cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $repo/deploy/prometheus/alerts.yml
scrape_configs:
  - job_name: gateway
    static_configs: [{targets: ['127.0.0.1:$port_gateway']}]
  - job_name: user-service
    static_configs: [{targets: ['127.0.0.1:$port_user']}]
  - job_name: message-service
    static_configs: [{targets: ['127.0.0.1:$port_message']}]
  - job_name: follow-service
    static_configs: [{targets: ['127.0.0.1:$port_follow']}]
  - job_name: node-exporter
    static_configs: [{targets: ['127.0.0.1:$port_node']}]
  - job_name: prometheus
    static_configs: [{targets: ['127.0.0.1:$port_prom']}]
EOF
promtool check config "$work/prometheus.yml" >"$work/promtool.out" 2>&1 \
    || { cat "$work/promtool.out" >&2; exit 1; }
/usr/bin/prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prometheus-data" \
    --web.listen-address="127.0.0.1:$port_prom" --storage.tsdb.retention.time=1h \
    >"$work/prometheus.log" 2>&1 &
pids+=($!)
wait_ready --pid "${pids[-1]}" "http://127.0.0.1:$port_prom/-/ready" 60
deadline=$((SECONDS + 30))
until [ "$(curl -fsS "http://127.0.0.1:$port_prom/api/v1/query" --data-urlencode 'query=count(up == 1)' \
    | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)')" = 6 ]; do
    if [ "$SECONDS" -ge "$deadline" ]; then echo "$me: Prometheus does not see all 6 targets up" >&2; exit 1; fi
    sleep 0.5
done
echo "$me: Prometheus on $port_prom scrapes all targets"

# ---- the checks --------------------------------------------------------------------
OBS_REPO="$repo" OBS_WORK="$work" OBS_RUN="$suffix" \
    OBS_GATEWAY="http://127.0.0.1:$port_gateway" OBS_USER="http://127.0.0.1:$port_user" \
    OBS_MESSAGE="http://127.0.0.1:$port_message" OBS_FOLLOW="http://127.0.0.1:$port_follow" \
    OBS_PROMETHEUS="http://127.0.0.1:$port_prom" OBS_FOLLOW_PID="$pid_follow" \
    OBS_SIM_AUTH_FILE="$work/sim_authorization" OBS_SESSION_KEY_FILE="$work/session_key" \
    OBS_DB_PASSWORD="$db_password" OBS_LOAD_SECONDS="${OBS_LOAD_SECONDS:-20}" \
    python3 "$repo/tests/observability/check.py"
