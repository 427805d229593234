# shellcheck shell=bash
# Sourced by end-to-end tests (tests/browser/run.sh, tests/schemathesis.sh): the three
# services on SQLite files and the gateway, as plain processes on free ports.
#
# minitwit_start_sqlite BIN_DIR WORK: starts them (databases and logs in WORK, argon2
# at its cheapest; MINITWIT_ARGON2=production keeps user-service's own), appends their pids to the caller's `pids` array (the caller kills
# them on exit), sets `base` to the gateway's URL and returns once the gateway and all
# three services answer `/ready`; exits 1 when a process dies or 30 s pass. Needs a
# `log` function, python3 and curl.

# shellcheck source=tests/lib/ports.sh
. "$(dirname "${BASH_SOURCE[0]}")/ports.sh"
# shellcheck source=tests/lib/ready.sh
. "$(dirname "${BASH_SOURCE[0]}")/ready.sh"

minitwit_start_sqlite() {
  local bin_dir=$1 work=$2 user_port message_port follow_port gateway_port pid
  read -r user_port message_port follow_port gateway_port < <(free_ports 4)
  _minitwit_start() {
    local service=$1
    shift
    env "$@" "$bin_dir/$service" >"$work/$service.log" 2>&1 &
    pids+=($!)
  }
  local argon2=(USER_SERVICE_ARGON2__MEMORY_KIB=64 USER_SERVICE_ARGON2__ITERATIONS=1)
  [ "${MINITWIT_ARGON2:-cheap}" != production ] || argon2=()
  _minitwit_start user-service USER_SERVICE_HTTP__PORT="$user_port" USER_SERVICE_DATABASE__URL="$work/users.db" \
    "${argon2[@]}" USER_SERVICE_LOG__FORMAT=json
  _minitwit_start message-service MESSAGE_SERVICE_HTTP__PORT="$message_port" \
    MESSAGE_SERVICE_DATABASE__URL="$work/messages.db" MESSAGE_SERVICE_LOG__FORMAT=json
  _minitwit_start follow-service FOLLOW_SERVICE_HTTP__PORT="$follow_port" \
    FOLLOW_SERVICE_DATABASE__URL="$work/follows.db" FOLLOW_SERVICE_LOG__FORMAT=json
  _minitwit_start gateway GATEWAY_HTTP__PORT="$gateway_port" \
    GATEWAY_SERVICES__USER_URL="http://127.0.0.1:$user_port" \
    GATEWAY_SERVICES__MESSAGE_URL="http://127.0.0.1:$message_port" \
    GATEWAY_SERVICES__FOLLOW_URL="http://127.0.0.1:$follow_port" \
    GATEWAY_LOG__FORMAT=json

  # The gateway is ready when it and all three services answer.
  base="http://127.0.0.1:$gateway_port"
  local watch=()
  for pid in "${pids[@]}"; do watch+=(--pid "$pid"); done
  if wait_ready "${watch[@]}" "$base/ready" 30; then
    log "MiniTwit is ready at $base"
    return 0
  fi
  log "MiniTwit did not become ready at $base"
  exit 1
}
