#!/usr/bin/env bash
# Roll every service of a swarm stack back to its previous spec, then wait
# until the stack converged again. Runs on a swarm manager.
#
# usage: rollback.sh [--since EPOCH] [--timeout SECONDS] STACK
#   --since EPOCH  services that swarm already rolled back by itself after
#                  EPOCH are left alone (rolling them back again would swap
#                  the failed spec back in)
#
# A service without a previous spec (created by the failed deploy) cannot be
# rolled back; it is reported and left as it is.
set -euo pipefail

since=0
timeout=600
while [ $# -gt 0 ]; do
  case "$1" in
    --since) since="$2"; shift 2 ;;
    --timeout) timeout="$2"; shift 2 ;;
    -*) echo "unknown option: $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || { echo "usage: $0 [--since EPOCH] [--timeout SECONDS] STACK" >&2; exit 2; }
stack="$1"
here="$(cd "$(dirname "$0")" && pwd)"

log() { printf '[rollback] %s\n' "$*"; }

services=$(docker stack services "$stack" --format '{{.Name}}')
if [ -z "$services" ]; then
  log "stack $stack has no services" >&2
  exit 1
fi

skipped=0
while read -r svc; do
  info=$(docker service inspect --format \
    '{{if .UpdateStatus}}{{.UpdateStatus.State}} {{if .UpdateStatus.StartedAt}}{{.UpdateStatus.StartedAt.Unix}}{{else}}0{{end}}{{end}}' \
    "$svc")
  state="${info%% *}"
  started="${info##* }"
  case "$state" in
    rollback_*)
      if [ "${started:-0}" -ge "$since" ]; then
        log "$svc: swarm already rolled it back ($state)"
        continue
      fi
      ;;
  esac
  if out=$(docker service rollback --detach "$svc" 2>&1); then
    log "$svc: rolling back"
  else
    log "$svc: not rolled back: $out" >&2
    skipped=$((skipped + 1))
  fi
done <<<"$services"

status=0
"$here/wait-converged.sh" --after-rollback --timeout "$timeout" "$stack" || status=$?
if [ "$skipped" -gt 0 ]; then
  log "$skipped service(s) could not be rolled back (see above)" >&2
fi
exit "$status"
