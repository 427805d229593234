#!/usr/bin/env bash
# Make this node the first swarm manager (idempotent), label it, and publish
# the join tokens for the other nodes in one of two ways:
#
# - Cloud (terraform): JOIN_SSH_PUBKEY is authorised for root with a forced
#   command that can only print a join token, and only from the private network
#   (SWARM_CIDR). Workers fetch the token over SSH inside the VPC
#   (swarm-join.sh, JOIN_SSH_KEY_FILE). Nothing has to reach the droplets from
#   the machine running terraform.
# - Local staging (Vagrant): the tokens are written to JOIN_TOKEN_DIR, the
#   /vagrant shared folder, where the workers read them (JOIN_TOKEN_FILE).
#
# Environment:
#   ADVERTISE_ADDR       private address to advertise (default: DigitalOcean metadata)
#   SWARM_CIDR           private network CIDR (required with JOIN_SSH_PUBKEY)
#   NODE_LABELS          space separated labels for this node, e.g. "db=true"
#   JOIN_TOKEN_DIR       write worker-token, manager-token and manager-addr there
#   JOIN_SSH_PUBKEY      public key allowed to fetch a join token
#   MANAGER_JOIN_ALLOWED "true" lets that key fetch the manager token as well
set -euo pipefail

NODE_LABELS="${NODE_LABELS:-}"
JOIN_TOKEN_DIR="${JOIN_TOKEN_DIR:-}"
JOIN_SSH_PUBKEY="${JOIN_SSH_PUBKEY:-}"
MANAGER_JOIN_ALLOWED="${MANAGER_JOIN_ALLOWED:-false}"
METADATA_URL="http://169.254.169.254/metadata/v1/interfaces/private/0/ipv4/address"

log() { printf '[swarm-init] %s\n' "$*"; }

ADVERTISE_ADDR="${ADVERTISE_ADDR:-$(curl -fsS --max-time 5 "$METADATA_URL" || true)}"
: "${ADVERTISE_ADDR:?ADVERTISE_ADDR is not set and the droplet metadata has no private address}"

state=$(docker info --format '{{.Swarm.LocalNodeState}}')
if [ "$state" = "active" ]; then
  log "swarm already active on this node"
else
  log "initialising the swarm, advertising $ADVERTISE_ADDR"
  docker swarm init --advertise-addr "$ADVERTISE_ADDR" --listen-addr "$ADVERTISE_ADDR:2377"
fi

node_id=$(docker info --format '{{.Swarm.NodeID}}')
for label in $NODE_LABELS; do
  log "labelling node: $label"
  docker node update --label-add "$label" "$node_id" >/dev/null
done

if [ -n "$JOIN_TOKEN_DIR" ]; then
  # May be a VirtualBox shared folder, where chmod has no effect.
  mkdir -p "$JOIN_TOKEN_DIR"
  chmod 0700 "$JOIN_TOKEN_DIR" 2>/dev/null || true
  (
    umask 077
    docker swarm join-token -q worker >"$JOIN_TOKEN_DIR/worker-token"
    docker swarm join-token -q manager >"$JOIN_TOKEN_DIR/manager-token"
    printf '%s\n' "$ADVERTISE_ADDR" >"$JOIN_TOKEN_DIR/manager-addr"
  )
  log "join tokens written to $JOIN_TOKEN_DIR"
fi

if [ -n "$JOIN_SSH_PUBKEY" ]; then
  : "${SWARM_CIDR:?SWARM_CIDR is required with JOIN_SSH_PUBKEY}"
  allowed="worker"
  [ "$MANAGER_JOIN_ALLOWED" = "true" ] && allowed="worker|manager"
  cat >/usr/local/sbin/swarm-join-token <<WRAPPER
#!/bin/sh
# Forced command of the swarm join key (see deploy/provision/swarm-init.sh):
# prints a join token and can do nothing else.
role="\${SSH_ORIGINAL_COMMAND:-worker}"
case "\$role" in
  $allowed) exec docker swarm join-token -q "\$role" ;;
  *) echo "refused: ask for one of $allowed" >&2; exit 2 ;;
esac
WRAPPER
  chmod 0755 /usr/local/sbin/swarm-join-token
  install -d -m 0700 /root/.ssh
  touch /root/.ssh/authorized_keys
  chmod 0600 /root/.ssh/authorized_keys
  # Replace any earlier join key line, keep every other key.
  grep -v 'swarm-join-token' /root/.ssh/authorized_keys >/root/.ssh/authorized_keys.new || true
  printf 'restrict,from="%s",command="/usr/local/sbin/swarm-join-token" %s\n' \
    "$SWARM_CIDR" "$JOIN_SSH_PUBKEY" >>/root/.ssh/authorized_keys.new
  mv /root/.ssh/authorized_keys.new /root/.ssh/authorized_keys
  log "join key authorised for $allowed tokens from $SWARM_CIDR"
fi

docker node ls
