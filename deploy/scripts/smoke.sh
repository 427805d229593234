#!/usr/bin/env bash
# Smoke test a deployed MiniTwit through its public URL:
#   GET /latest  answers JSON with an integer "latest"   (the simulator API)
#   GET /public  answers 200 with "Public Timeline"       (a page)
# Retries for a while, since nginx and the gateway may still be settling.
#
# usage: smoke.sh BASE_URL          e.g. smoke.sh https://minitwit.example.org
# env:   SMOKE_ATTEMPTS (default 10), SMOKE_DELAY seconds (default 6),
#        SMOKE_INSECURE=1 to accept a self-signed certificate (local staging)
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 BASE_URL" >&2; exit 2; }
base="${1%/}"
attempts="${SMOKE_ATTEMPTS:-10}"
delay="${SMOKE_DELAY:-6}"

curl_opts=(--silent --show-error --location --max-time 10)
[ "${SMOKE_INSECURE:-0}" = "1" ] && curl_opts+=(--insecure)

body=$(mktemp)
trap 'rm -f "$body"' EXIT

log() { printf '[smoke] %s\n' "$*"; }

# fetch PATH: sets $code and leaves the body in $body
fetch() {
  code=$(curl "${curl_opts[@]}" --output "$body" --write-out '%{http_code}' "$base$1") || code=000
}

check_latest() {
  fetch /latest
  [ "$code" = "200" ] || { log "GET /latest: HTTP $code"; return 1; }
  if command -v jq >/dev/null 2>&1; then
    jq -e '(.latest | type) == "number"' "$body" >/dev/null ||
      { log "GET /latest: no numeric \"latest\" in: $(head -c 200 "$body")"; return 1; }
  else
    grep -Eq '"latest"[[:space:]]*:[[:space:]]*-?[0-9]+' "$body" ||
      { log "GET /latest: no numeric \"latest\" in: $(head -c 200 "$body")"; return 1; }
  fi
  log "GET /latest: ok ($(head -c 100 "$body"))"
}

check_public() {
  fetch /public
  [ "$code" = "200" ] || { log "GET /public: HTTP $code"; return 1; }
  grep -q "Public Timeline" "$body" || { log "GET /public: no \"Public Timeline\" on the page"; return 1; }
  log "GET /public: ok"
}

for ((i = 1; i <= attempts; i++)); do
  if check_latest && check_public; then
    log "passed against $base"
    exit 0
  fi
  if [ "$i" -lt "$attempts" ]; then
    log "attempt $i/$attempts failed, retrying in ${delay}s"
    sleep "$delay"
  fi
done
log "FAILED against $base after $attempts attempts" >&2
exit 1
