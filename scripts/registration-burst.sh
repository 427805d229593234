#!/usr/bin/env bash
# A burst of registrations through the simulator API, as `make run` serves them (the
# three services on SQLite, production argon2id settings), for one or more builds side
# by side: each BIN_DIR's system is started fresh, then ROUNDS bursts of USERS
# registrations, CONCURRENCY in flight at once (minitwit-sim load's set-up phase).
# Prints errors and latency per round; the figures of issue 22, item 3.
#
#   scripts/registration-burst.sh [BIN_DIR ...]        (default: target/release)
#   USERS=100 CONCURRENCY=32 ROUNDS=3
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$PWD"
users="${USERS:-100}"
concurrency="${CONCURRENCY:-32}"
rounds="${ROUNDS:-3}"
[ $# -gt 0 ] || set -- target/release
log() { echo "registration-burst: $*" >&2; }
# shellcheck source=tests/lib/sqlite_system.sh
. tests/lib/sqlite_system.sh

pids=()
work="$(mktemp -d "${TMPDIR:-/tmp}/minitwit-burst.XXXXXX")"
stop() {
    local pid
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    pids=()
}
trap 'stop; rm -rf "$work"' EXIT

printf '%-28s %5s %5s %7s %7s %7s %7s  %s\n' build round sent errors "p50 ms" "p99 ms" "max ms" "errors by kind"
for bin in "$@"; do
    case "$bin" in /*) ;; *) bin="$repo/$bin" ;; esac
    for b in gateway user-service message-service follow-service minitwit-sim; do
        [ -x "$bin/$b" ] || { log "$bin/$b is missing (cargo build --release --bins)"; exit 1; }
    done
    dir="$(mktemp -d "$work/build.XXXXXX")"
    MINITWIT_ARGON2=production minitwit_start_sqlite "$bin" "$dir"
    url="$base"
    for round in $(seq 1 "$rounds"); do
        "$bin/minitwit-sim" load --url "$url" --rate 1 --duration 1s --users "$users" --seed "$((round * 1000 + RANDOM))" \
            --setup-concurrency "$concurrency" --timeout-ms 10000 --json >"$dir/round$round.json" 2>"$dir/round$round.log" || true
        jq -r --arg b "$bin" --arg r "$round" '.setup | [($b | .[-28:]), $r, .sent, .errors, .latency.p50_ms, .latency.p99_ms, .latency.max_ms,
            (.errors_by_kind | to_entries | map("\(.key)=\(.value)") | join(" "))] | @tsv' "$dir/round$round.json" \
            | awk -F'\t' '{ printf "%-28s %5s %5s %7s %7.0f %7.0f %7.0f  %s\n", $1, $2, $3, $4, $5, $6, $7, $8 }'
    done
    stop
done
