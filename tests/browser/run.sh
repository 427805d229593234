#!/usr/bin/env bash
# The browser test: the whole MiniTwit (three services on SQLite files in a temporary
# directory, and the gateway) driven by Debian's real Chromium through Playwright:
# register two users, log in, post, follow, see the followed user's message on
# "My Timeline", log out. Screenshots of every page, on a laptop-sized and a
# phone-sized screen, go to test-output/browser/ (not committed): look at them.
#
# Installs what is missing: Debian's chromium (apt-get), a venv at .venv-browser with
# the playwright package (Playwright's own browser downloads are never used), and the
# debug binaries (`cargo build --bins`, only when BIN_DIR lacks them).
#
# Environment: BIN_DIR (default target/debug), OUT_DIR (default test-output/browser),
# VENV (default .venv-browser).
set -euo pipefail
cd "$(dirname "$0")/../.."

BIN_DIR=${BIN_DIR:-target/debug}
OUT_DIR=${OUT_DIR:-test-output/browser}
VENV=${VENV:-.venv-browser}
SERVICES=(user-service message-service follow-service gateway)

log() { printf '%s\n' "browser test: $*" >&2; }

find_chromium() { command -v chromium || command -v chromium-browser || true; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

chromium=$(find_chromium)
if [ -z "$chromium" ]; then
  log "installing Debian's chromium"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium
  chromium=$(find_chromium)
  [ -n "$chromium" ] || { log "chromium is still missing"; exit 1; }
fi

if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV"
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import playwright.sync_api' 2>/dev/null; then
  log "installing playwright into $VENV"
  "$VENV/bin/python" -m pip install -q playwright
fi

missing=()
for service in "${SERVICES[@]}"; do
  [ -x "$BIN_DIR/$service" ] || missing+=("$service")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "building the binaries (${missing[*]} missing in $BIN_DIR)"
  cargo build --bins
  for service in "${SERVICES[@]}"; do
    [ -x "$BIN_DIR/$service" ] || { log "$BIN_DIR/$service is still missing"; exit 1; }
  done
fi

tmp=$(mktemp -d)
pids=()
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ ${#pids[@]} -gt 0 ]; then
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ]; then
    for f in "$tmp"/*.log; do
      [ -s "$f" ] || continue
      log "last lines of $(basename "$f"):"
      tail -n 20 "$f" >&2
    done
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

user_port=$(free_port)
message_port=$(free_port)
follow_port=$(free_port)
gateway_port=$(free_port)

start() {
  local service=$1
  shift
  env "$@" "$BIN_DIR/$service" >"$tmp/$service.log" 2>&1 &
  pids+=($!)
}

start user-service \
  USER_SERVICE_HTTP__PORT="$user_port" \
  USER_SERVICE_DATABASE__URL="$tmp/users.db" \
  USER_SERVICE_ARGON2__MEMORY_KIB=64 \
  USER_SERVICE_ARGON2__ITERATIONS=1 \
  USER_SERVICE_LOG__FORMAT=json
start message-service \
  MESSAGE_SERVICE_HTTP__PORT="$message_port" \
  MESSAGE_SERVICE_DATABASE__URL="$tmp/messages.db" \
  MESSAGE_SERVICE_LOG__FORMAT=json
start follow-service \
  FOLLOW_SERVICE_HTTP__PORT="$follow_port" \
  FOLLOW_SERVICE_DATABASE__URL="$tmp/follows.db" \
  FOLLOW_SERVICE_LOG__FORMAT=json
start gateway \
  GATEWAY_HTTP__PORT="$gateway_port" \
  GATEWAY_SERVICES__USER_URL="http://127.0.0.1:$user_port" \
  GATEWAY_SERVICES__MESSAGE_URL="http://127.0.0.1:$message_port" \
  GATEWAY_SERVICES__FOLLOW_URL="http://127.0.0.1:$follow_port" \
  GATEWAY_LOG__FORMAT=json

# The gateway is ready when it and all three services answer.
base="http://127.0.0.1:$gateway_port"
ready=no
for _ in $(seq 1 150); do
  if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$base/ready" 2>/dev/null; then
    ready=yes
    break
  fi
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { log "a process exited at start-up"; exit 1; }
  done
  sleep 0.2
done
[ "$ready" = yes ] || { log "MiniTwit did not become ready at $base"; exit 1; }
log "MiniTwit is ready at $base"

rm -rf "$OUT_DIR"
mkdir -p "$OUT_DIR"
"$VENV/bin/python" tests/browser/ui_test.py --base-url "$base" --chromium "$chromium" --out "$OUT_DIR"
log "screenshots are in $OUT_DIR"
