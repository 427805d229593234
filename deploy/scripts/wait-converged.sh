#!/usr/bin/env bash
# Wait until every service of a swarm stack has converged: its update (if one
# started since --since) completed, as many tasks run as are desired, and every
# task meant to run uses the image of the service's current spec.
# Runs on a swarm manager. Fails at once when swarm paused an update or rolled
# it back by itself (update_config.failure_action), and after --timeout.
#
# usage: wait-converged.sh [--timeout SECONDS] [--interval SECONDS]
#                          [--since EPOCH] [--after-rollback] STACK
#   --since EPOCH     ignore update states of updates that started before EPOCH
#                     (take `date +%s` on the manager before `docker stack deploy`)
#   --after-rollback  we are waiting for a rollback: rollback_completed is success
set -euo pipefail

timeout=600
interval=5
since=0
after_rollback=false

usage() {
  sed -n 's/^# \{0,1\}//; 2,11p' "$0" >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --timeout) timeout="$2"; shift 2 ;;
    --interval) interval="$2"; shift 2 ;;
    --since) since="$2"; shift 2 ;;
    --after-rollback) after_rollback=true; shift ;;
    -h | --help) usage ;;
    -*) echo "unknown option: $1" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || usage
stack="$1"

log() { printf '[wait-converged] %s\n' "$*"; }

# Prints "settled", "pending" or "failed: <why>" for one service.
service_state() {
  local svc="$1" mode="$2" replicas="$3" info state started running desired rest
  info=$(docker service inspect --format \
    '{{if .UpdateStatus}}{{.UpdateStatus.State}} {{if .UpdateStatus.StartedAt}}{{.UpdateStatus.StartedAt.Unix}}{{else}}0{{end}}{{end}}' \
    "$svc")
  state="${info%% *}"
  started="${info##* }"
  if [ -n "$state" ] && [ "${started:-0}" -ge "$since" ]; then
    case "$state" in
      updating | rollback_started)
        echo "pending"
        return
        ;;
      paused | rollback_paused)
        echo "failed: update $state"
        return
        ;;
      rollback_completed)
        if [ "$after_rollback" != true ]; then
          echo "failed: swarm rolled the update back"
          return
        fi
        ;;
    esac
  fi
  case "$mode" in
    *job*)
      echo "settled"
      return
      ;;
  esac
  # Replicas looks like "2/2" or "3/3 (max 1 per node)".
  running="${replicas%%/*}"
  rest="${replicas#*/}"
  desired="${rest%% *}"
  if [ "$running" != "$desired" ]; then
    echo "pending"
    return
  fi
  # Guards against the moment right after `docker stack deploy`, before the
  # update started: every task meant to run must already use the new image.
  local image stale
  image=$(docker service inspect --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}' "$svc")
  stale=$(docker service ps --no-trunc --filter desired-state=running --format '{{.Image}}' "$svc" |
    grep -cvxF -- "$image" || true)
  if [ "$stale" -eq 0 ]; then
    echo "settled"
  else
    echo "pending"
  fi
}

deadline=$(($(date +%s) + timeout))
while :; do
  lines=$(docker stack services "$stack" --format '{{.Name}}|{{.Mode}}|{{.Replicas}}')
  if [ -z "$lines" ]; then
    log "stack $stack has no services" >&2
    exit 1
  fi
  pending=()
  failed=()
  while IFS='|' read -r name mode replicas; do
    result=$(service_state "$name" "$mode" "$replicas")
    case "$result" in
      settled) ;;
      pending) pending+=("$name ($replicas)") ;;
      *) failed+=("$name: ${result#failed: }") ;;
    esac
  done <<<"$lines"

  if [ "${#failed[@]}" -gt 0 ]; then
    log "not converged, failed services:" >&2
    printf '  %s\n' "${failed[@]}" >&2
    docker stack ps --no-trunc "$stack" 2>&1 | head -n 40 >&2 || true
    exit 1
  fi
  if [ "${#pending[@]}" -eq 0 ]; then
    log "every service of $stack converged"
    docker stack services "$stack"
    exit 0
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    log "timed out after ${timeout}s; still pending:" >&2
    printf '  %s\n' "${pending[@]}" >&2
    docker stack ps --no-trunc --filter desired-state=running "$stack" 2>&1 | head -n 40 >&2 || true
    exit 1
  fi
  log "waiting for ${#pending[@]} service(s): ${pending[*]}"
  sleep "$interval"
done
