#!/usr/bin/env bash
# Roll a deploy back: return the services that a `docker stack deploy` changed
# to the spec they had before it, then wait until the stack converged again.
# Runs on a swarm manager; needs jq.
#
# usage: rollback.sh [--record FILE] [--since EPOCH] [--timeout SECONDS] STACK
#   --record FILE  the deploy record deploy.sh wrote (deploy.sh --record, or the
#                  path it printed). Only the services whose spec that deploy
#                  changed are rolled back, each only if its previous spec still
#                  is the one it had before the deploy; a service swarm already
#                  rolled back by itself is left alone. Without a record there
#                  is nothing to roll back to safely: see below.
#   --since EPOCH  without --record: every service whose previous spec differs
#                  from its current one is rolled back, except those swarm
#                  rolled back by itself after EPOCH. Only right after a deploy
#                  that changed them: `docker service rollback` swaps the current
#                  and the previous spec, whatever deploy made them.
#
# A service the deploy created has no previous spec; it is reported and left
# as it is (remove it with `docker service rm` if the old release must not
# have it). Exits non-zero if a changed service could not be rolled back or the
# stack did not converge.
set -euo pipefail

since=0
timeout=600
record=""
while [ $# -gt 0 ]; do
  case "$1" in
    --since) since="$2"; shift 2 ;;
    --timeout) timeout="$2"; shift 2 ;;
    --record) record="$2"; shift 2 ;;
    -*) echo "unknown option: $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || { echo "usage: $0 [--record FILE] [--since EPOCH] [--timeout SECONDS] STACK" >&2; exit 2; }
stack="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=deploy/scripts/swarm-lib.sh
. "$here/swarm-lib.sh"
swarm_require_jq

log() { printf '[rollback] %s\n' "$*"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ -n "$record" ] && [ ! -s "$record" ]; then
  # deploy.sh writes the record right after `docker stack deploy`: without
  # one, that command never ran and production still runs what it ran before.
  log "no deploy record at $record: nothing was deployed, nothing to roll back"
  exit 0
fi

# What is running now; the wait below compares against it.
swarm_snapshot "$stack" >"$work/now.json"
if [ "$(jq 'length' "$work/now.json")" -eq 0 ]; then
  log "stack $stack has no services" >&2
  exit 1
fi

# One line per service: "name<TAB>action<TAB>why", action one of rollback,
# skip (fine as it is) or refuse (cannot be rolled back safely).
if [ -n "$record" ]; then
  jq -r --slurpfile now "$work/now.json" '
    .before as $before
    | $now[0] as $now
    | .after | to_entries[]
    | .key as $name | .value as $after
    | $before[$name] as $was
    | $now[$name] as $cur
    | if $was == null then [$name, "skip", "created by the deploy, has no earlier spec: left as it is"]
      elif $was.spec == $after.spec then empty
      elif $cur == null then [$name, "refuse", "no longer exists"]
      elif $cur.spec == $was.spec then [$name, "skip", "already back on its pre-deploy spec (swarm rolled it back)"]
      elif $cur.spec == $after.spec or $cur.previous == $was.spec then [$name, "rollback", "back to its pre-deploy spec"]
      else [$name, "refuse", "changed again since the deploy; roll it back by hand"]
      end
    | @tsv' "$record" >"$work/plan.tsv"
else
  jq -r '
    to_entries[] | .key as $name | .value as $cur
    | if $cur.previous == null then [$name, "skip", "has no previous spec"]
      elif $cur.previous == $cur.spec then empty
      else [$name, "rollback", "to its previous spec"] end
    | @tsv' "$work/now.json" >"$work/plan.tsv"
  # Services swarm already rolled back by itself since --since: rolling them
  # back again would swap the failed spec back in.
  swarm_inspect_stack "$stack" | jq -r --argjson since "$since" '
    def epoch: if . == null or . == "" then 0 else (sub("\\.[0-9]+"; "") | fromdateiso8601) end;
    .[] | select((.UpdateStatus.State // "") | startswith("rollback_"))
    | select((.UpdateStatus.StartedAt | epoch) >= $since) | .Spec.Name' >"$work/self-rolled-back"
  while read -r name; do
    [ -n "$name" ] || continue
    # take it out of the plan, say why
    awk -F '\t' -v n="$name" '$1 != n' "$work/plan.tsv" >"$work/plan.tmp"
    printf '%s\tskip\tswarm already rolled it back\n' "$name" >>"$work/plan.tmp"
    mv "$work/plan.tmp" "$work/plan.tsv"
  done <"$work/self-rolled-back"
fi

refused=0
rolled=0
while IFS=$'\t' read -r name action why; do
  [ -n "$name" ] || continue
  case "$action" in
    rollback)
      if out=$(docker service rollback --detach "$name" 2>&1); then
        log "$name: rolling back ($why)"
        rolled=$((rolled + 1))
      else
        log "$name: not rolled back: $out" >&2
        refused=$((refused + 1))
      fi
      ;;
    skip) log "$name: $why" ;;
    *)
      log "$name: not rolled back: $why" >&2
      refused=$((refused + 1))
      ;;
  esac
done <"$work/plan.tsv"

if [ "$rolled" -eq 0 ] && [ ! -s "$work/plan.tsv" ]; then
  log "the deploy changed no service; nothing to roll back"
fi

# Wait with the snapshot from before the rollbacks: their update states count,
# older ones do not.
jq '{before: .}' "$work/now.json" >"$work/record.json"
status=0
"$here/wait-converged.sh" --after-rollback --record "$work/record.json" --timeout "$timeout" "$stack" || status=$?
if [ "$refused" -gt 0 ]; then
  log "$refused service(s) could not be rolled back (see above)" >&2
  [ "$status" -ne 0 ] || status=1
fi
exit "$status"
