#!/usr/bin/env bash
# Smoke test a deployed MiniTwit through its public URL (nginx), with checks
# that hold for any simulator allow-list:
#   GET /health  answers 200                                  (nginx -> a gateway)
#   GET /public  answers 200 with "Public Timeline"           (a page: gateway,
#                                                              services, PostgreSQL)
#   GET /latest  answers 200 with an integer "latest" when this client is on the
#                simulator allow-list, or the simulator API's own 403 JSON error
#                when it is not: either way the gateway's simulator API answered
#                and the allow-list does its job. Anything else fails.
# Retries for a while, since nginx and the gateway may still be settling.
#
# usage: smoke.sh BASE_URL          e.g. smoke.sh https://minitwit.example.org
# env:   SMOKE_ATTEMPTS (default 10), SMOKE_DELAY seconds (default 6),
#        SMOKE_INSECURE=1 to accept a self-signed certificate (local staging),
#        SMOKE_LATEST=any (default) | allowed (must be 200) | refused (must be 403)
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 BASE_URL" >&2; exit 2; }
base="${1%/}"
attempts="${SMOKE_ATTEMPTS:-10}"
delay="${SMOKE_DELAY:-6}"
expect_latest="${SMOKE_LATEST:-any}"
case "$expect_latest" in
  any | allowed | refused) ;;
  *) echo "SMOKE_LATEST must be any, allowed or refused" >&2; exit 2 ;;
esac

curl_opts=(--silent --show-error --location --max-time 10)
if [ "${SMOKE_INSECURE:-0}" = "1" ]; then curl_opts+=(--insecure); fi

body=$(mktemp)
trap 'rm -f "$body"' EXIT

log() { printf '[smoke] %s\n' "$*"; }

# fetch PATH: sets $code and leaves the body in $body
fetch() {
  code=$(curl "${curl_opts[@]}" --output "$body" --write-out '%{http_code}' "$base$1") || code=000
}

excerpt() { head -c 200 "$body" | tr '\n' ' '; }

check_health() {
  fetch /health
  [ "$code" = "200" ] || { log "GET /health: HTTP $code"; return 1; }
  log "GET /health: ok"
}

check_public() {
  fetch /public
  [ "$code" = "200" ] || { log "GET /public: HTTP $code"; return 1; }
  grep -q "Public Timeline" "$body" || { log "GET /public: no \"Public Timeline\" on the page"; return 1; }
  log "GET /public: ok"
}

check_latest() {
  fetch /latest
  case "$code:$expect_latest" in
    200:any | 200:allowed)
      grep -Eq '"latest"[[:space:]]*:[[:space:]]*-?[0-9]+' "$body" ||
        { log "GET /latest: no numeric \"latest\" in: $(excerpt)"; return 1; }
      log "GET /latest: ok, this client is on the allow-list ($(head -c 100 "$body"))"
      ;;
    403:any | 403:refused)
      # the simulator API's error shape, not some proxy's 403 page
      if ! grep -Eq '"status"[[:space:]]*:[[:space:]]*403' "$body" || ! grep -q '"error_msg"' "$body"; then
        log "GET /latest: a 403 that is not the simulator API's: $(excerpt)"
        return 1
      fi
      log "GET /latest: ok, the simulator API refused this client (not on the allow-list)"
      ;;
    *)
      log "GET /latest: HTTP $code (expected $expect_latest): $(excerpt)"
      return 1
      ;;
  esac
}

for ((i = 1; i <= attempts; i++)); do
  if check_health && check_public && check_latest; then
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
