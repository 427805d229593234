#!/usr/bin/env bash
# Join this node to the swarm as a worker (or an extra manager), idempotent.
# The token comes either from a file written by the first manager (Vagrant:
# JOIN_TOKEN_FILE in the /vagrant shared folder) or over SSH inside the private
# network with a key that can only print a join token (cloud: JOIN_SSH_KEY_FILE,
# see swarm-init.sh). Either way the manager may still be booting, so both wait.
#
# Environment:
#   MANAGER_ADDR        private address of the first manager (required)
#   ROLE                worker (default) or manager
#   ADVERTISE_ADDR      private address to advertise (default: DigitalOcean metadata)
#   JOIN_TOKEN_FILE     file holding the join token
#   JOIN_SSH_KEY_FILE   private key allowed to fetch a join token from root@MANAGER_ADDR
#   JOIN_WAIT_SECONDS   how long to wait for the manager (default 900)
#   NODE_LABELS         space separated labels for this node, e.g. "edge=true
#                       monitoring=true" (a manager only: a worker cannot label itself)
set -euo pipefail

: "${MANAGER_ADDR:?MANAGER_ADDR must be the private address of the first manager}"
ROLE="${ROLE:-worker}"
JOIN_TOKEN_FILE="${JOIN_TOKEN_FILE:-}"
JOIN_SSH_KEY_FILE="${JOIN_SSH_KEY_FILE:-}"
JOIN_WAIT_SECONDS="${JOIN_WAIT_SECONDS:-900}"
NODE_LABELS="${NODE_LABELS:-}"
METADATA_URL="http://169.254.169.254/metadata/v1/interfaces/private/0/ipv4/address"

log() { printf '[swarm-join] %s\n' "$*"; }

case "$ROLE" in
  worker | manager) ;;
  *)
    log "ROLE must be worker or manager, not '$ROLE'" >&2
    exit 2
    ;;
esac
if [ -n "$NODE_LABELS" ] && [ "$ROLE" != manager ]; then
  log "NODE_LABELS needs ROLE=manager: a worker cannot label itself (label it from a manager)" >&2
  exit 2
fi

label_self() {
  local label
  for label in $NODE_LABELS; do
    docker node update --label-add "$label" "$(docker info --format '{{.Swarm.NodeID}}')" >/dev/null
    log "label $label"
  done
}

ADVERTISE_ADDR="${ADVERTISE_ADDR:-$(curl -fsS --max-time 5 "$METADATA_URL" || true)}"
: "${ADVERTISE_ADDR:?ADVERTISE_ADDR is not set and the droplet metadata has no private address}"

if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = "active" ]; then
  log "already part of a swarm"
  label_self
  exit 0
fi

fetch_token() {
  if [ -n "$JOIN_TOKEN_FILE" ]; then
    [ -s "$JOIN_TOKEN_FILE" ] && cat "$JOIN_TOKEN_FILE"
  elif [ -n "$JOIN_SSH_KEY_FILE" ]; then
    ssh -i "$JOIN_SSH_KEY_FILE" -o BatchMode=yes -o ConnectTimeout=5 \
      -o StrictHostKeyChecking=accept-new "root@$MANAGER_ADDR" "$ROLE"
  else
    log "set JOIN_TOKEN_FILE or JOIN_SSH_KEY_FILE" >&2
    exit 2
  fi
}

waited=0
until token=$(fetch_token 2>/dev/null) && [ -n "$token" ] &&
  docker swarm join --token "$token" --advertise-addr "$ADVERTISE_ADDR" "$MANAGER_ADDR:2377"; do
  if [ "$waited" -ge "$JOIN_WAIT_SECONDS" ]; then
    log "could not join the swarm at $MANAGER_ADDR within ${JOIN_WAIT_SECONDS}s" >&2
    exit 1
  fi
  log "manager $MANAGER_ADDR not ready yet, retrying"
  sleep 10
  waited=$((waited + 10))
done
log "joined the swarm as a $ROLE"
label_self
