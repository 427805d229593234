#!/usr/bin/env bash
# Wait until every service of a swarm stack has converged after a deploy (or a
# rollback), judged by what swarm itself reports for each service:
#
# - its update status: `updating` (or `rollback_started` after a rollback) is
#   still going; `completed` is done; `paused`, `rollback_paused`, and a
#   rollback swarm started by itself (update_config.failure_action) fail at once;
# - as many tasks running as are desired (a job, or 0 desired, needs none),
#   not counting a task on a node that is down: swarm goes on listing it as
#   running (`docker stack services` says 3/2) while its replacement runs
#   elsewhere, and a deploy during a node loss must still converge;
# - with --record (deploy.sh writes it): an update status counts only for a
#   service whose object version rose since the snapshot taken before
#   `docker stack deploy`, so an old status of an untouched service is ignored;
#   and a service whose task template changed (image, configs, secrets,
#   environment, resources, ...; placement alone does not replace tasks) but
#   shows no update status yet is waiting for swarm to start its update, not
#   converged. This is what catches a config-only update in the moment after
#   `docker stack deploy`, before swarm started it.
#
# Runs on a swarm manager; needs jq. Exits 0 when converged, 1 on a failed,
# paused or rolled back update and on --timeout.
#
# usage: wait-converged.sh [--timeout SECONDS] [--interval SECONDS]
#                          [--record FILE] [--since EPOCH] [--after-rollback] STACK
#   --record FILE     deploy record of deploy.sh (or rollback.sh's snapshot)
#   --since EPOCH     without --record: ignore update states of updates that
#                     started before EPOCH (`date +%s` before the deploy)
#   --after-rollback  we are waiting for a rollback: rollback_completed is success
set -euo pipefail

timeout=600
interval=5
since=0
record=""
after_rollback=false

usage() {
  sed -n '2,/^set -e/s/^# \{0,1\}//p' "$0" >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --timeout) timeout="$2"; shift 2 ;;
    --interval) interval="$2"; shift 2 ;;
    --since) since="$2"; shift 2 ;;
    --record) record="$2"; shift 2 ;;
    --after-rollback) after_rollback=true; shift ;;
    -h | --help) usage ;;
    -*) echo "unknown option: $1" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || usage
stack="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=deploy/scripts/swarm-lib.sh
. "$here/swarm-lib.sh"
swarm_require_jq

log() { printf '[wait-converged] %s\n' "$*"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -n "$record" ]; then
  jq -e 'type == "object" and (.before | type) == "object"' "$record" >/dev/null ||
    { log "not a deploy record: $record" >&2; exit 2; }
  cp "$record" "$work/record.json"
else
  echo 'null' >"$work/record.json"
fi

# One verdict per service, "name<TAB>settled|pending|failed<TAB>why", from
# `docker stack services` (running/desired) and `docker service inspect`.
# shellcheck disable=SC2016 # jq program
verdicts_jq='
def epoch: if . == null or . == "" then 0
  else (sub("\\.[0-9]+"; "") | fromdateiso8601) end;
# What makes swarm replace tasks; placement alone does not when the node still fits.
def template: (.TaskTemplate // {}) | del(.Placement);
def counts: ((.Replicas // "") | capture("^(?<run>[0-9]+)/(?<want>[0-9]+)")
             | {run: (.run | tonumber), want: (.want | tonumber)}) // {run: 0, want: -1};
# tasks swarm still counts as running on nodes that are down, by service name
def stale($name): ($stale[0][$name] // 0);
def why($st): if ($st.Message // "") == "" then "" else ": " + $st.Message end;

# by name: `docker stack services` shows IDs truncated to 12 characters
($inspect[0] | map({key: .Spec.Name, value: .}) | from_entries) as $by_name
| $record[0] as $rec
| $services[]
| . as $line
| ($line | counts | .run -= stale($line.Name)) as $c
| (($line.Mode // "") | test("job")) as $job
| (if stale($line.Name) > 0 then " (\(stale($line.Name)) on a node that is down)" else "" end) as $note
| (if $job or $c.want == 0 or $c.run == $c.want then ["settled", "\($c.run)/\($c.want) running\($note)"]
   else ["pending", "\($c.run)/\($c.want) running\($note)"] end) as $by_counts
| $by_name[$line.Name] as $svc
| if $svc == null then [$line.Name, "pending", "not inspectable yet"]
  else
    $svc.Spec.Name as $name
    | (if $rec == null then null else $rec.before[$name] end) as $before
    | (if $rec == null or $before == null then true
       else $svc.Version.Index > $before.index end) as $touched
    | $svc.UpdateStatus as $st
    | ($st != null and $touched
       and ($rec != null or ($st.StartedAt | epoch) >= $since)) as $relevant
    | [$name] + (
      if $relevant then
        if $st.State == "updating" then ["pending", "update in progress"]
        elif $st.State == "rollback_started" then
          if $after_rollback then ["pending", "rollback in progress"]
          else ["failed", "swarm is rolling the update back" + why($st)] end
        elif $st.State == "paused" then ["failed", "update paused" + why($st)]
        elif $st.State == "rollback_paused" then ["failed", "rollback paused" + why($st)]
        elif $st.State == "rollback_completed" and ($after_rollback | not) then
          ["failed", "swarm rolled the update back" + why($st)]
        else $by_counts end
      elif $rec != null and ($after_rollback | not) and $before != null and $touched
           and $st == null and $c.want != 0 and ($job | not)
           and ($before.spec | template) != ($svc.Spec | template) then
        ["pending", "task template changed, update not started yet"]
      else $by_counts end)
  end
| @tsv
'

# stale_tasks: {"<service>": N} of the tasks swarm lists as running on nodes that
# are down ({} when no node is down, or when docker cannot tell). Their desired
# state is already shutdown, but their last known state stays "Running" until the
# node answers again, and `docker stack services` counts them.
stale_tasks() {
  local down
  down=$(docker node ls --format '{{.Hostname}} {{.Status}}' 2>/dev/null | awk '$2 == "Down" { print $1 }') || true
  if [ -z "$down" ]; then
    echo '{}'
    return 0
  fi
  docker stack ps "$stack" --format '{{.Name}} {{.Node}} {{.CurrentState}}' 2>/dev/null |
    awk -v down="$down" 'BEGIN { n = split(down, d, "\n"); for (i = 1; i <= n; i++) isdown[d[i]] = 1 }
      isdown[$2] && $3 == "Running" { sub(/\..*/, "", $1); count[$1]++ }
      END { printf "{"; sep = ""; for (s in count) { printf "%s\"%s\":%d", sep, s, count[s]; sep = "," } print "}" }' ||
    true
}

deadline=$(($(date +%s) + timeout))
polls=0
while :; do
  polls=$((polls + 1))
  verdicts=""
  if docker stack services "$stack" --format '{{json .}}' >"$work/services.jsonl" 2>"$work/err"; then
    if [ ! -s "$work/services.jsonl" ]; then
      log "stack $stack has no services" >&2
      exit 1
    fi
    stale_tasks >"$work/stale.json"
    if swarm_inspect_stack "$stack" >"$work/inspect.json" 2>"$work/err"; then
      verdicts=$(jq -rn \
        --slurpfile inspect "$work/inspect.json" \
        --slurpfile record "$work/record.json" \
        --slurpfile stale "$work/stale.json" \
        --argjson since "$since" \
        --argjson after_rollback "$after_rollback" \
        '[inputs] as $services | '"$verdicts_jq" <"$work/services.jsonl")
    fi
  fi

  pending=()
  failed=()
  settled=()
  if [ -z "$verdicts" ]; then
    pending+=("(docker did not answer: $(head -c 200 "$work/err"))")
  else
    while IFS=$'\t' read -r name verdict why; do
      case "$verdict" in
        settled) settled+=("$name ($why)") ;;
        pending) pending+=("$name: $why") ;;
        *) failed+=("$name: $why") ;;
      esac
    done <<<"$verdicts"
  fi

  if [ "${#failed[@]}" -gt 0 ]; then
    log "not converged, failed services:" >&2
    printf '  %s\n' "${failed[@]}" >&2
    docker stack ps --no-trunc "$stack" 2>&1 | head -n 40 >&2 || true
    exit 1
  fi
  if [ "${#pending[@]}" -eq 0 ]; then
    log "every service of $stack converged (poll $polls):"
    printf '  %s\n' "${settled[@]}"
    exit 0
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    log "timed out after ${timeout}s; still pending:" >&2
    printf '  %s\n' "${pending[@]}" >&2
    docker stack ps --no-trunc --filter desired-state=running "$stack" 2>&1 | head -n 40 >&2 || true
    exit 1
  fi
  log "waiting for ${#pending[@]} service(s): $(printf '%s; ' "${pending[@]}")"
  sleep "$interval"
done
