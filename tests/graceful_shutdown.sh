#!/usr/bin/env bash
# SIGTERM lets in-flight requests finish: a registration whose password hash takes
# about a second is under way when the service gets SIGTERM; it must still answer 201,
# the row must be there after a restart, and the process must exit 0.
# Then, with HTTP__DRAIN_MS set (as in the swarm), a new request sent after SIGTERM,
# within the drain, is still served, and the process exits 0 once the drain is over.
set -euo pipefail
cd "$(dirname "$0")/.."

bin_dir=${BIN_DIR:-target/debug}
[ -x "$bin_dir/user-service" ] || cargo build --bin user-service
work=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=tests/lib/ports.sh
. tests/lib/ports.sh
# shellcheck source=tests/lib/ready.sh
. tests/lib/ready.sh
port=$(free_ports 1)
start() {
  USER_SERVICE_HTTP__DRAIN_MS=${DRAIN_MS:-0} USER_SERVICE_HTTP__PORT=$port USER_SERVICE_DATABASE__URL="$work/users.db" USER_SERVICE_LOG__FORMAT=json \
    USER_SERVICE_ARGON2__MEMORY_KIB=65536 USER_SERVICE_ARGON2__ITERATIONS=12 \
    "$bin_dir/user-service" >>"$work/log" 2>&1 &
  pid=$!
  wait_ready --pid "$pid" "http://127.0.0.1:$port/ready" 10 && return 0
  echo "graceful_shutdown: user-service did not start" >&2
  cat "$work/log" >&2
  exit 1
}

start
curl -s -o "$work/body" -w '%{http_code} %{time_total}' -H 'content-type: application/json' \
  -d '{"username":"in flight","email":"f@f","password":"slow"}' \
  "http://127.0.0.1:$port/users" >"$work/status" &
client=$!
sleep 0.3
kill -TERM "$pid"
wait "$client"
read -r status took <"$work/status" || true
set +e
wait "$pid"
exit_code=$?
set -e
pid=""
[ "$status" = 201 ] || { echo "FAIL: the in-flight registration answered $status" >&2; cat "$work/log" >&2; exit 1; }
# Only meaningful if the request was still being served when SIGTERM came.
python3 -c "import sys; sys.exit(0 if float('$took') > 0.3 else 1)" ||
  { echo "FAIL: the request took ${took}s, so it was not in flight at SIGTERM: make the hash slower" >&2; exit 1; }
[ "$exit_code" = 0 ] || { echo "FAIL: user-service exited $exit_code after SIGTERM" >&2; exit 1; }
if curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1; then
  echo "FAIL: still answering after SIGTERM" >&2
  exit 1
fi

start
curl -fs "http://127.0.0.1:$port/users/by-name/in%20flight" | grep -q '"username":"in flight"' ||
  { echo "FAIL: the acknowledged registration is missing after the restart" >&2; exit 1; }
echo "graceful_shutdown: the request in flight at SIGTERM finished (201 after ${took}s), exit 0, the row survived"

# Drain: still serving new requests for HTTP__DRAIN_MS after SIGTERM.
kill -TERM "$pid"
wait "$pid" || true
DRAIN_MS=1500 start
t0=$(date +%s%N)
kill -TERM "$pid"
sleep 0.7
drained=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/users/by-name/in%20flight" || true)
set +e
wait "$pid"
exit_code=$?
set -e
pid=""
stopped_ms=$((($(date +%s%N) - t0) / 1000000))
[ "$drained" = 200 ] || { echo "FAIL: a request 0.7 s into the 1.5 s drain answered $drained" >&2; cat "$work/log" >&2; exit 1; }
[ "$exit_code" = 0 ] || { echo "FAIL: user-service exited $exit_code after the drain" >&2; exit 1; }
[ "$stopped_ms" -ge 1400 ] || { echo "FAIL: stopped after ${stopped_ms} ms, before the drain ended" >&2; exit 1; }
echo "graceful_shutdown: during a 1.5 s drain a new request was served (200), exit 0 after ${stopped_ms} ms"
