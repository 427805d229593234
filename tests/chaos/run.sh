#!/usr/bin/env bash
# `make chaos`: MiniTwit under steady simulator load while its processes are killed.
#
# Two replicas of each service and of the gateway, on a PostgreSQL cluster of this
# test's own (scripts/postgres.sh with MINITWIT_PG_PRIVATE=1: it is restarted here, so
# it must be nobody else's). In front of the gateways nginx (Debian's, a user process
# with its prefix under target/chaos) with the project's proxy settings
# (deploy/nginx/minitwit/proxy.conf and idempotency.conf); between the gateways and
# each service a TCP round robin (nginx's stream module) that stands for the swarm's
# DNS round robin (`endpoint_mode: dnsrr`): the gateway's connector tries a name's
# addresses in turn, so a connect to a dead replica goes on to the next address, and a
# connection once made is never moved (proxy_next_upstream on, 2 tries).
#
# `minitwit-sim load` sends a steady mix of tweets (unique texts), follows and reads
# through nginx and logs every acknowledged write and every failed request. Meanwhile
# each replica in turn is killed with SIGKILL and restarted 1 s later, then PostgreSQL
# is stopped in immediate mode and started again 1 s later. Printed per fault: the
# failed requests and the error window (first to last failed request's due time).
# Then `minitwit-sim verify` reads every acknowledged tweet and follow back.
#
# Fails when an acknowledged write is lost or stored twice, or when verify cannot run.
# Failed requests while a replica is down are reported; they fail the test only with
# CHAOS_STRICT=1. Settings: BIN_DIR (default target/debug, built if missing),
# CHAOS_REPLICAS (2, or 1: one process each, where a kill cannot be hidden),
# CHAOS_RATE (requests/s, default 75), CHAOS_SEGMENT_S (seconds per fault, default
# 5), CHAOS_TIMEOUT_MS (the load's per-request time-out, default 1000; the course's
# simulator gives up after 300), CHAOS_MIX (the load's mix, default
# tweet=50,follow=20,public=15,user=15; no unfollow, or follows cannot be verified).
# Logs and the report stay in target/chaos/.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD

bin_dir=${BIN_DIR:-$repo/target/debug}
rate=${CHAOS_RATE:-75}
segment=${CHAOS_SEGMENT_S:-5}
timeout_ms=${CHAOS_TIMEOUT_MS:-1000}
strict=${CHAOS_STRICT:-0}
replicas_each=${CHAOS_REPLICAS:-2}
mix=${CHAOS_MIX:-tweet=50,follow=20,public=15,user=15}
# The page verify reads a user's tweets and follows in, allowed by the services: at
# high rates the most active of the load's users (a Zipf draw) posts thousands.
page=50000
work=$repo/target/chaos

say() { echo "chaos: $*"; }
fail() { echo "chaos: FAIL: $*" >&2; exit 1; }
case $replicas_each in 1 | 2) ;; *) fail "CHAOS_REPLICAS must be 1 or 2, not '$replicas_each'" ;; esac

for b in gateway user-service message-service follow-service minitwit-sim; do
  [ -x "$bin_dir/$b" ] || { say "building the binaries"; cargo build --bins; break; }
done

# Debian's nginx with the stream module; jq for the reports.
# shellcheck source=tests/lib/apt.sh
. tests/lib/apt.sh
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
need_pkg "$nginx_bin" nginx /usr/lib/nginx/modules/ngx_stream_module.so libnginx-mod-stream \
  jq jq psql postgresql-client curl curl python3 python3

rm -rf "$work"
mkdir -p "$work/logs" "$work/nginx/logs"

# shellcheck source=scripts/postgres.sh
. scripts/postgres.sh

declare -A pid=()
load_pid=""
cleanup() {
  local rc=$?
  [ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null || true
  for name in "${!pid[@]}"; do kill "${pid[$name]}" 2>/dev/null || true; done
  if [ -f "$work/nginx/nginx.pid" ]; then kill "$(cat "$work/nginx/nginx.pid")" 2>/dev/null || true; fi
  minitwit_pg_stop
  if [ "$rc" -ne 0 ]; then
    echo "chaos: logs in $work/logs; the last error lines:" >&2
    grep -h '"level":"ERRO\|panicked' "$work"/logs/*.log 2>/dev/null | tail -n 20 >&2 || true
  fi
}
trap cleanup EXIT

MINITWIT_PG_PRIVATE=1 minitwit_pg_start
admin=$MINITWIT_TEST_DATABASE_URL
# shellcheck source=tests/lib/pg_url.sh
. tests/lib/pg_url.sh
declare -A db_url=()
for db in users messages follows; do
  psql -q "$admin" -c "CREATE DATABASE chaos_$db" >/dev/null
  db_url[$db]=$(pg_db_url "$admin" "chaos_$db")
done

# Free ports: the edge, three round robins, two replicas of everything.
# shellcheck source=tests/lib/ports.sh
. tests/lib/ports.sh
read -r edge rr_user rr_message rr_follow g1 g2 u1 u2 m1 m2 f1 f2 < <(free_ports 12)
declare -A port=([gateway-1]=$g1 [gateway-2]=$g2 [user-service-1]=$u1 [user-service-2]=$u2
  [message-service-1]=$m1 [message-service-2]=$m2 [follow-service-1]=$f1 [follow-service-2]=$f2)

# nginx: the edge (http) and the round robins between gateways and services (stream).
cp deploy/nginx/minitwit/proxy.conf deploy/nginx/minitwit/idempotency.conf "$work/nginx/"
rr() { # a TCP round robin on port $1 over ports $2...; a failed connect tries the next
  local p
  echo "    upstream rr_$1 {"
  for p in "${@:2:$replicas_each}"; do echo "        server 127.0.0.1:$p max_fails=1 fail_timeout=1s;"; done
  cat <<CONF
    }
    server {
        listen 127.0.0.1:$1;
        proxy_pass rr_$1;
        proxy_next_upstream on;
        proxy_next_upstream_tries 2;
        proxy_connect_timeout 250ms;
    }
CONF
}
cat >"$work/nginx/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/logs/nginx-error.log warn;
events { worker_connections 4096; }
stream {
$(rr "$rr_user" "$u1" "$u2")
$(rr "$rr_message" "$m1" "$m2")
$(rr "$rr_follow" "$f1" "$f2")
}
http {
    access_log off;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    keepalive_timeout 30s;
    include idempotency.conf;
    # max_fails=0: like the production config (proxy_pass to tasks.gateway, looked
    # up per request), nginx keeps no memory of a failed gateway between requests.
    upstream gateways {
$(for p in "$g1" "$g2"; do echo "        server 127.0.0.1:$p max_fails=0;"; done | head -n "$replicas_each")
        keepalive 32;
    }
    server {
        listen 127.0.0.1:$edge;
        location / {
            include proxy.conf;
            proxy_pass http://gateways;
        }
    }
}
CONF
"$nginx_bin" -p "$work/nginx" -c "$work/nginx/nginx.conf" -t >/dev/null 2>&1 ||
  { "$nginx_bin" -p "$work/nginx" -c "$work/nginx/nginx.conf" -t; fail "nginx -t"; }
"$nginx_bin" -p "$work/nginx" -c "$work/nginx/nginx.conf"

start() { # start <name>: replica name-N on its port
  local name=$1 kind=${1%-*} prefix
  prefix=$(echo "${1%-*}" | tr 'a-z-' 'A-Z_')
  local -a env=("${prefix}_HTTP__PORT=${port[$name]}" "${prefix}_HTTP__WORKERS=2"
    "${prefix}_LOG__FORMAT=json" "${prefix}_LOG__LEVEL=warning")
  case $kind in
    gateway)
      env+=("GATEWAY_SERVICES__USER_URL=http://127.0.0.1:$rr_user"
        "GATEWAY_SERVICES__MESSAGE_URL=http://127.0.0.1:$rr_message"
        "GATEWAY_SERVICES__FOLLOW_URL=http://127.0.0.1:$rr_follow"
        "GATEWAY_SIM__MAX_NO=$page") ;;
    user-service)
      env+=("USER_SERVICE_DATABASE__URL=${db_url[users]}"
        "USER_SERVICE_ARGON2__MEMORY_KIB=1024" "USER_SERVICE_ARGON2__ITERATIONS=1") ;;
    message-service) env+=("MESSAGE_SERVICE_DATABASE__URL=${db_url[messages]}" "MESSAGE_SERVICE_MAX_LIMIT=$page") ;;
    follow-service) env+=("FOLLOW_SERVICE_DATABASE__URL=${db_url[follows]}" "FOLLOW_SERVICE_MAX_LIMIT=$page") ;;
  esac
  env "${env[@]}" "$bin_dir/$kind" >>"$work/logs/$name.log" 2>&1 &
  pid[$name]=$!
}

# shellcheck source=tests/lib/ready.sh
. tests/lib/ready.sh
replica_ready() { # replica_ready <name>: replica name answers /ready 2xx within 30 s
  wait_ready --pid "${pid[$1]}" "http://127.0.0.1:${port[$1]}/ready" 30 || fail "$1 is not ready"
}

replicas=()
for kind in user-service message-service follow-service gateway; do
  for i in $(seq 1 "$replicas_each"); do replicas+=("$kind-$i"); done
done
for name in "${replicas[@]}"; do start "$name"; done
for name in "${replicas[@]}"; do replica_ready "$name"; done
curl -fs -o /dev/null "http://127.0.0.1:$edge/ready" || fail "gateways not ready through nginx"
say "$replicas_each replica(s) each of gateway, user-, message- and follow-service; nginx on :$edge; PostgreSQL ${admin##*@}"

now() { date +%s.%N; }
marks=$work/faults.tsv # fault name, start (epoch s), downtime
: >"$marks"

"$bin_dir/minitwit-sim" load --url "http://127.0.0.1:$edge" --rate "$rate" --duration 600 \
  --users 100 --mix "$mix" --timeout-ms "$timeout_ms" \
  --ack-log "$work/acks.jsonl" --error-log "$work/errors.jsonl" --json \
  >"$work/load.json" 2>"$work/logs/load.log" &
load_pid=$!
# The load has begun once its first write is acknowledged (on a machine busy with
# other work a debug build's first answers may take long).
for _ in $(seq 1 1200); do [ -s "$work/acks.jsonl" ] && break; sleep 0.1; done
[ -s "$work/acks.jsonl" ] || fail "the load did not start (see $work/logs/load.log)"
sleep 2
printf 'before any fault\t%s\t0\n' "$(now)" >>"$marks"
sleep 1

for name in "${replicas[@]}"; do
  t0=$(now)
  kill -9 "${pid[$name]}"
  wait "${pid[$name]}" 2>/dev/null || true
  sleep 1
  start "$name"
  printf '%s killed\t%s\t%s\n' "$name" "$t0" "$(python3 -c "print(round($(now) - $t0, 2))")" >>"$marks"
  replica_ready "$name"
  sleep "$(python3 -c "print(max(0.0, $segment - ($(now) - $t0)))")"
done

t0=$(now)
minitwit_pg_ctl -m immediate stop >/dev/null
sleep 1
minitwit_pg_restart
printf 'PostgreSQL restarted\t%s\t%s\n' "$t0" "$(python3 -c "print(round($(now) - $t0, 2))")" >>"$marks"
for name in "${replicas[@]}"; do
  case $name in gateway-*) ;; *) replica_ready "$name" ;; esac
done
sleep "$(python3 -c "print(max(0.0, $segment - ($(now) - $t0)))")"
printf 'end\t%s\t0\n' "$(now)" >>"$marks"

kill -TERM "$load_pid"
wait "$load_pid" || fail "the load failed (see $work/logs/load.log)"
load_pid=""

# Per fault: the failed requests due from its start to the next fault's start, each
# moved back by IN_FLIGHT_S: a request due just before a kill was still in flight when
# it came (at 1,000 req/s a kill finds dozens), and is that fault's, not the last one's.
python3 - "$marks" "$work/errors.jsonl" >"$work/report.md" <<'PY'
import json, sys
IN_FLIGHT_S = 0.5
marks = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
errors = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
print("| fault | downtime | failed requests | error window |")
print("| --- | --- | --- | --- |")
for (name, start, down), (after, end, _) in zip(marks, marks[1:]):
    begin = float(start) - IN_FLIGHT_S
    until = float(end) - (0 if after == "end" else IN_FLIGHT_S)
    mine = sorted((e for e in errors if begin <= e["at"] < until), key=lambda e: e["at"])
    kinds = {}
    for e in mine:
        kinds[e["error"]] = kinds.get(e["error"], 0) + 1
    failed = str(len(mine)) + (" (" + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) + ")" if mine else "")
    window = f"{mine[-1]['at'] - mine[0]['at']:.1f} s" if mine else "–"
    print(f"| {name} | {float(down):.1f} s | {failed} | {window} |")
early = [e for e in errors if e["at"] < float(marks[0][1]) - IN_FLIGHT_S]
if early:
    print(f"\n{len(early)} requests failed before the first mark (set-up)")
PY

"$bin_dir/minitwit-sim" verify --url "http://127.0.0.1:$edge" --ack-log "$work/acks.jsonl" --page "$page" --json \
  >"$work/verify.json" || true
jq -e . "$work/verify.json" >/dev/null 2>&1 || fail "verify did not run (see $work/verify.json)"

echo
jq -r '"load: \(.total.sent) requests at \(.rate) req/s, \(.errors) failed, \(.acknowledged_tweets) tweets and \(.acknowledged_follows) follows acknowledged"' "$work/load.json"
cat "$work/report.md"
jq -r '"verify: \(.acknowledged) acknowledged tweets: \(.kept) read back once, \(.lost) lost, \(.duplicated) duplicated; \(.follows_acknowledged) acknowledged follows: \(.follows_kept) listed once, \(.follows_lost) lost, \(.follows_duplicated) duplicated"' "$work/verify.json"
jq -r '.examples[]' "$work/verify.json"

jq -e '.lost == 0 and .duplicated == 0 and .follows_lost == 0 and .follows_duplicated == 0 and (.unchecked_users | length) == 0 and .acknowledged > 0 and .follows_acknowledged > 0' \
  "$work/verify.json" >/dev/null || fail "acknowledged writes lost or duplicated (or none to check)"
replica_failures=$(python3 - "$marks" "$work/errors.jsonl" <<'PY'
import json, sys
marks = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
errors = [json.loads(l)["at"] for l in open(sys.argv[2]) if l.strip()]
spans = [(float(s), float(e)) for (n, s, _), (_, e, _) in zip(marks, marks[1:]) if n.endswith(" killed") or n == "before any fault"]
print(sum(1 for at in errors if any(s <= at < e for s, e in spans)))
PY
)
if [ "$replica_failures" -gt 0 ]; then
  if [ "$strict" = 1 ]; then fail "$replica_failures requests failed while replicas were killed (CHAOS_STRICT=1)"; fi
  say "$replica_failures requests failed while replicas were killed (reported; CHAOS_STRICT=1 fails on them)"
fi
say "OK: no acknowledged write lost or duplicated (report: $work/report.md)"
