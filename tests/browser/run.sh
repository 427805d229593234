#!/usr/bin/env bash
# The browser test: the whole MiniTwit (three services on SQLite files in a temporary
# directory, and the gateway) driven by Debian's real Chromium through Playwright:
# register two users, log in, post, follow, see the followed user's message on
# "My Timeline", log out. Screenshots of every page, on a laptop-sized and a
# phone-sized screen, go to test-output/browser/ (not committed): look at them.
#
# Installs what is missing: Debian's chromium and curl (tests/lib/apt.sh), a venv at
# .venv-browser with the playwright package (Playwright's own browser downloads are
# never used), and the debug binaries (`cargo build --bins`, only when BIN_DIR lacks
# them).
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

# shellcheck source=tests/lib/apt.sh
. tests/lib/apt.sh
chromium=$(find_chromium)
# curl: tests/lib/sqlite_system.sh waits for /ready with it
need_pkg "${chromium:-chromium}" chromium curl curl
chromium=$(find_chromium)
[ -n "$chromium" ] || { log "chromium is still missing"; exit 1; }

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

# shellcheck source=tests/lib/sqlite_system.sh
. tests/lib/sqlite_system.sh
minitwit_start_sqlite "$BIN_DIR" "$tmp"

rm -rf "$OUT_DIR"
mkdir -p "$OUT_DIR"
"$VENV/bin/python" tests/browser/ui_test.py --base-url "$base" --chromium "$chromium" --out "$OUT_DIR"
log "screenshots are in $OUT_DIR"
