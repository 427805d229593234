#!/usr/bin/env bash
# `make run`: the whole MiniTwit on one machine: the three services on SQLite files
# under ./data and the gateway on http://localhost:8080. Readable logs in this
# terminal; Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${BIN_DIR:-target/release}
mkdir -p data
pids=()
stop() {
  trap - INT TERM EXIT
  [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

export USER_SERVICE_DATABASE__URL=${USER_SERVICE_DATABASE__URL:-data/users.db}
export MESSAGE_SERVICE_DATABASE__URL=${MESSAGE_SERVICE_DATABASE__URL:-data/messages.db}
export FOLLOW_SERVICE_DATABASE__URL=${FOLLOW_SERVICE_DATABASE__URL:-data/follows.db}

for service in user-service message-service follow-service gateway; do
  "$bin/$service" &
  pids+=($!)
done

for _ in $(seq 1 100); do
  if (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null; then
    echo "MiniTwit is running on http://localhost:8080 (Ctrl-C stops it)"
    break
  fi
  sleep 0.1
done
wait -n "${pids[@]}"
echo "a process stopped; stopping the others" >&2
