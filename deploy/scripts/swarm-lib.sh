# shellcheck shell=bash
# Shared by deploy.sh, wait-converged.sh and rollback.sh (sourced, not run).
#
# A *snapshot* is a JSON object, one entry per service of a stack:
#   {"minitwit_gateway": {"id": "...", "index": 1234, "spec": {...}, "previous": {...}}}
# index is the service's object version (.Version.Index): every `docker stack
# deploy`, `docker service update` or rollback that touches the service raises
# it, so comparing it before and after tells whether an update status belongs
# to this deploy. spec is the full .Spec: comparing it tells what changed.
#
# A deploy *record* (deploy.sh --record) holds the snapshots taken right before
# and right after `docker stack deploy`:
#   {"stack": "...", "since": EPOCH, "tag": "...", "deploy_status": N,
#    "before": SNAPSHOT, "after": SNAPSHOT}
# It exists only once `docker stack deploy` ran, so it also is the marker that
# there is something to roll back.

# Needs jq (deploy/provision/base.sh installs it on every node).
swarm_require_jq() {
  command -v jq >/dev/null 2>&1 || {
    echo "jq is required (apt-get install jq)" >&2
    exit 2
  }
}

# swarm_inspect_stack STACK: `docker service inspect` of every service of the
# stack, as one JSON array ([] when the stack has no services).
swarm_inspect_stack() {
  local ids
  ids=$(docker service ls -q --filter "label=com.docker.stack.namespace=$1")
  if [ -z "$ids" ]; then
    echo '[]'
    return 0
  fi
  # shellcheck disable=SC2086 # one id per word
  docker service inspect $ids
}

# swarm_snapshot_of: the snapshot of the `docker service inspect` array on stdin. The
# specs leave out the platforms an image runs on: a deploy that resolves an image (the
# first one, or --resolve-image always) records them, one that does not (changed, for
# an image it did not change) drops them, and neither changes what runs; kept, they made
# every service look changed by the second deploy, and rollback.sh roll them all back.
swarm_snapshot_of() {
  jq -c 'def spec: del(.TaskTemplate.Placement.Platforms);
    map({key: .Spec.Name, value: {
      id: .ID, index: .Version.Index, spec: (.Spec | spec), previous: (.PreviousSpec | spec)}}) | from_entries'
}

# swarm_snapshot STACK: prints the snapshot of the stack (see above).
swarm_snapshot() {
  swarm_inspect_stack "$1" | swarm_snapshot_of
}
