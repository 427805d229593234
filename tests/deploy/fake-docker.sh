#!/usr/bin/env bash
# A stand-in for the docker CLI for tests/deploy: it replays recorded swarm
# states instead of asking a swarm. Its state lives in ../state beside the bin/
# folder it is installed in (tests/deploy/lib.sh sets that up):
#
#   frames/000, frames/001, ...  one swarm state each:
#       inspect.json    what `docker service inspect` of every stack service prints
#       replicas.json   {"<service>": "running/desired"}, for `docker stack services`
#   calls               every command line it got, one per line
#   secrets             names of the Docker secrets that exist
#   secret-values/NAME  the value `docker secret create NAME -` was given
#   stack-config.yml    what `docker stack config` prints
#   deploy-exit         exit status of `docker stack deploy` (default 0)
#   nodes               what `docker node ls --format '{{.Hostname}} {{.Status}}'`
#                       prints (unsupported, as on a worker, when missing)
#   stack-ps            what `docker stack ps --format '{{.Name}} {{.Node}}
#                       {{.CurrentState}}'` prints
#
# Time moves on as on a swarm: each poll (`docker stack services`) after the
# first of a frame moves to the next frame, and `docker stack deploy` or
# `docker service rollback` make the next read move on once; the last frame
# stays.
set -euo pipefail
state="$(cd "$(dirname "$0")/.." && pwd)/state"
{
  printf '%s' "$*"
  if [ "${1:-} ${2:-}" = "stack deploy" ]; then
    printf ' [env TAG=%s REGISTRY=%s DOMAIN=%s SIM_ALLOW_LIST=%s DOCKER_CONFIG=%s NGINX_CONFIG_VERSION=%s]' \
      "${TAG:-}" "${REGISTRY:-}" "${DOMAIN:-}" "${SIM_ALLOW_LIST:-}" "${DOCKER_CONFIG:-}" "${NGINX_CONFIG_VERSION:-}"
  fi
  printf '\n'
} >>"$state/calls"

[ -f "$state/frame" ] || echo 0 >"$state/frame"
frames=$(find "$state/frames" -mindepth 1 -maxdepth 1 -type d | wc -l)

advance() {
  local f
  f=$(cat "$state/frame")
  if [ "$f" -lt $((frames - 1)) ]; then echo $((f + 1)) >"$state/frame"; fi
  rm -f "$state/served"
}
apply_pending() {
  if [ -f "$state/pending" ]; then
    rm -f "$state/pending"
    advance
  fi
}
current() { printf '%s/frames/%03d' "$state" "$(cat "$state/frame")"; }
last_arg() { local a; for a in "$@"; do :; done; printf '%s' "$a"; }

for a in "$@"; do
  if [ "$a" = "--help" ]; then exit 0; fi
done

case "${1:-} ${2:-}" in
  "stack services")
    apply_pending
    if [ -f "$state/served" ]; then advance; fi
    touch "$state/served"
    d=$(current)
    jq -c --slurpfile r "$d/replicas.json" '.[] | {
        ID: .ID[0:12], Image: .Spec.TaskTemplate.ContainerSpec.Image,
        Mode: (if .Spec.Mode.Global then "global" elif .Spec.Mode.ReplicatedJob then "replicated job"
               else "replicated" end),
        Name: .Spec.Name, Ports: "", Replicas: ($r[0][.Spec.Name] // "0/0")}' "$d/inspect.json"
    ;;
  "service ls")
    apply_pending
    jq -r '.[].ID' "$(current)/inspect.json"
    ;;
  "service inspect")
    apply_pending
    cat "$(current)/inspect.json"
    ;;
  "service rollback")
    name=$(last_arg "$@")
    if [ -f "$state/rollback-fails" ] && grep -qxF "$name" "$state/rollback-fails"; then
      echo "Error response from daemon: service $name does not have a previous spec" >&2
      exit 1
    fi
    touch "$state/pending"
    echo "$name"
    ;;
  "stack deploy")
    touch "$state/pending"
    exit "$(cat "$state/deploy-exit" 2>/dev/null || echo 0)"
    ;;
  "stack config")
    cat "$state/stack-config.yml"
    ;;
  "secret inspect")
    name=$(last_arg "$@")
    grep -qxF "$name" "$state/secrets" 2>/dev/null || { echo "Error: no such secret: $name" >&2; exit 1; }
    echo "id-$name"
    ;;
  "secret create")
    # secret create NAME -: the value from stdin, kept in secret-values/NAME
    name="$3"
    mkdir -p "$state/secret-values"
    cat >"$state/secret-values/$name"
    echo "$name" >>"$state/secrets"
    echo "id-$name"
    ;;
  "stack ps")
    if [ -f "$state/stack-ps" ]; then cat "$state/stack-ps"; else echo "(fake docker: stack ps)"; fi
    ;;
  "node ls")
    [ -f "$state/nodes" ] || { echo "fake docker: no nodes" >&2; exit 1; }
    cat "$state/nodes"
    ;;
  *)
    echo "fake docker: unsupported command: $*" >&2
    exit 1
    ;;
esac
