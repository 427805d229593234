# shellcheck shell=bash
# Shared by the cluster scripts (sourced, not run): where the test nodes are and how
# to drive them. tests/cluster/README.md says what the cluster is.
#
# Four test nodes, each a container of a Debian root file system running its own
# Docker engine (Debian's docker.io, what this machine runs), on one bridge network
# of this machine with addresses of their own, plus a registry (Debian's
# docker-registry) on the same network. The host's own docker CLI drives each node
# over TLS (DOCKER_HOST=tcp://ADDRESS:2376), as an operator's workstation would.

# shellcheck disable=SC2034 # the variables are used by the scripts that source this
# The shared test helpers (log, die, need_cmd, base_image, test_ca, test_cert,
# test_secrets, test_env_settings, tls_volume, docker_build).
# shellcheck source=tests/swarm/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../swarm/lib.sh"
# shellcheck source=tests/lib/ports.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../lib/ports.sh"
# shellcheck source=tests/lib/acme.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../lib/acme.sh"
log() { printf '[cluster %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

CLUSTER_STATE="${CLUSTER_STATE:-$SWARM_ROOT/target/cluster}"
# The state make swarm-up must not share: the env file, the test CA.
SWARM_STATE="$CLUSTER_STATE"
SWARM_ENV="$CLUSTER_STATE/minitwit.env"
CLUSTER_NET="${CLUSTER_NET:-minitwit-cluster}"
# A /24 of this machine's own, for the test nodes only (CLUSTER_SUBNET=a.b.c.0/24
# where it collides with a network of the machine).
CLUSTER_SUBNET="${CLUSTER_SUBNET:-172.31.250.0/24}"
cluster_prefix="${CLUSTER_SUBNET%.*}"

# name, address and role of each node; the roles are the node labels:
#   manager1  db                (PostgreSQL, backups)
#   manager2  edge, monitoring  (nginx, certbot; Prometheus, Alertmanager)
#   manager3  -                 (app replicas only)
#   worker1   -                 (app replicas only)
CLUSTER_NODES=(manager1 manager2 manager3 worker1)
declare -A NODE_IP=([manager1]="$cluster_prefix.11" [manager2]="$cluster_prefix.12"
    [manager3]="$cluster_prefix.13" [worker1]="$cluster_prefix.21")
declare -A NODE_LABELS=([manager1]="db" [manager2]="edge monitoring" [manager3]="" [worker1]="")
# replacement: not started by up.sh; the new node make cluster-test-full gives
# manager1's block volume when manager1 is lost (check 6).
NODE_IP[replacement]="$cluster_prefix.22"
# replacement2: the node check 6b makes when the replacement dies with its volume.
NODE_IP[replacement2]="$cluster_prefix.23"
declare -A NODE_PGDATA=([manager1]=1 [replacement]=1 [replacement2]=1)
CLUSTER_PGDATA_VOLUME=minitwit-cluster-pgdata
# The manager the scripts drive the swarm through (check 6 loses manager1).
MANAGER="${MANAGER:-manager1}"
REGISTRY_IP="$cluster_prefix.5"
HOST_IP="$cluster_prefix.1" # this machine on the network: the S3 peer (s3_peer)
REGISTRY_HOST="$REGISTRY_IP:5000"
# What the stack's images are called: the test's registry, then a folder.
CLUSTER_REGISTRY="$REGISTRY_HOST/minitwit"
REGISTRY_USER=minitwit

# Where the nodes' engines keep their images and containers: one directory per node
# in a tmpfs of this machine (engines_mount), not on the disk PostgreSQL's volume is
# on (why, measured: tests/cluster/README.md, "What the rig itself costs the checks").
# CLUSTER_ENGINES=volume keeps them on volumes of this machine's engine instead.
CLUSTER_ENGINES="${CLUSTER_ENGINES:-/var/lib/minitwit-cluster-engines}"

# The host's docker config for this cluster: the registry login lives here, never in
# the user's own ~/.docker.
CLUSTER_DOCKER_CONFIG="$CLUSTER_STATE/docker-config"
CLUSTER_PKI="$CLUSTER_STATE/tls"

# Packages of the node image: the engine and what it needs, the registry.
NODE_PACKAGES="ca-certificates,docker.io,iproute2,iptables,procps,kmod,tini,docker-registry,apache2-utils,curl"

node_container() { echo "minitwit-cluster-$1"; }

# cluster_is_ours: whether the cluster containers on this engine were made from this
# checkout's state: its test CA exists and the registry serves the TLS files of its
# state directory. A cluster left by another run whose state is gone (another clone,
# or target/ removed after an interrupted run) trusts another CA and cannot be
# resumed: CI once failed on the registry an interrupted run had left, which answered
# with that run's certificate.
cluster_is_ours() {
    [ -s "$CLUSTER_PKI/ca.pem" ] || return 1
    host_docker container inspect --format '{{range .Mounts}}{{println .Source}}{{end}}' \
        "$(node_container registry)" 2>/dev/null | grep -qxF "$CLUSTER_STATE/registry/tls"
}
# remove_foreign_cluster: takes down the cluster on this engine when it is not ours
# (down.sh, which removes this checkout's state too; the images are kept).
remove_foreign_cluster() {
    [ -n "$(host_docker ps -aq --filter label=minitwit-cluster=1)" ] && ! cluster_is_ours || return 0
    log "removing a cluster that this checkout's state did not make (left by another run)"
    KEEP_IMAGES=1 "$SWARM_ROOT/tests/cluster/down.sh"
}

# node_env NODE: the environment that points the docker CLI at NODE's engine.
node_env() {
    echo "DOCKER_HOST=tcp://${NODE_IP[$1]}:2376 DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=$CLUSTER_PKI/client"
}

# on NODE ARGS...: the docker CLI against NODE's engine.
on() {
    on_within 0 "$@"
}
# on_within SECONDS NODE ARGS...: the same, stopped after SECONDS (0: never); `timeout`
# cannot run the function `on` itself.
on_within() {
    local secs="$1" node="$2"
    shift 2
    DOCKER_HOST="tcp://${NODE_IP[$node]}:2376" DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH="$CLUSTER_PKI/client" \
        DOCKER_CONFIG="$CLUSTER_DOCKER_CONFIG" timeout "$secs" docker "$@"
}

# use_node NODE: points this shell's docker CLI at NODE (the deploy scripts, which
# keep DOCKER_HOST and friends, then run against it).
use_node() {
    export DOCKER_HOST="tcp://${NODE_IP[$1]}:2376" DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH="$CLUSTER_PKI/client" \
        DOCKER_CONFIG="$CLUSTER_DOCKER_CONFIG"
}

# host_docker ARGS...: the docker CLI against this machine's own engine.
host_docker() {
    env -u DOCKER_HOST -u DOCKER_TLS_VERIFY -u DOCKER_CERT_PATH DOCKER_CONFIG="$CLUSTER_DOCKER_CONFIG" docker "$@"
}

# on_host COMMAND...: a command that drives this machine's own engine (builds,
# tags, pushes, plain containers), whatever node the shell points at.
on_host() {
    (
        unset DOCKER_HOST DOCKER_TLS_VERIFY DOCKER_CERT_PATH
        export DOCKER_CONFIG="$CLUSTER_DOCKER_CONFIG"
        "$@"
    )
}

# node_of_task SERVICE: the node (hostname) that runs a running task of
# STACK_SERVICE. task_exec SERVICE ARGS...: `docker exec` in that task's container.
node_of_task() {
    on "$MANAGER" service ps --filter desired-state=running --format '{{.Node}} {{.CurrentState}}' "${STACK}_$1" \
        | awk '$2 == "Running" { print $1; exit }'
}
task_container() { # task_container NODE SERVICE
    on "$1" ps -q --filter "label=com.docker.swarm.service.name=${STACK}_$2" | head -1
}
task_exec() {
    local service="$1" node
    shift
    node="$(node_of_task "$service")"
    [ -n "$node" ] || { log "no running task of $service"; return 1; }
    on "$node" exec "$(task_container "$node" "$service")" "$@"
}
task_exec_i() {
    local service="$1" node
    shift
    node="$(node_of_task "$service")"
    [ -n "$node" ] || { log "no running task of $service"; return 1; }
    on "$node" exec -i "$(task_container "$node" "$service")" "$@"
}

# engines_mount: the tmpfs at CLUSTER_ENGINES, mounted once (it outlives the nodes'
# containers, so a node killed and started again keeps its engine's state, as a
# machine that reboots keeps its disk; down.sh unmounts it).
engines_mount() {
    [ "$CLUSTER_ENGINES" = volume ] && return 0
    mountpoint -q "$CLUSTER_ENGINES" && return 0
    as_root mkdir -p "$CLUSTER_ENGINES"
    as_root mount -t tmpfs -o mode=0711 minitwit-cluster-engines "$CLUSTER_ENGINES" \
        || die "cannot mount a tmpfs at $CLUSTER_ENGINES for the nodes' engines (needs root or sudo; CLUSTER_ENGINES=volume keeps them on disk)"
}
# engines_unmount: down.sh's undoing of engines_mount.
engines_unmount() {
    [ "$CLUSTER_ENGINES" != volume ] && mountpoint -q "$CLUSTER_ENGINES" || return 0
    as_root umount "$CLUSTER_ENGINES"
    as_root rmdir "$CLUSTER_ENGINES"
}
# engine_store NODE: what start_node mounts at NODE's /var/lib/docker (the engine
# makes a missing directory of the tmpfs).
engine_store() {
    if [ "$CLUSTER_ENGINES" = volume ]; then
        echo "$(node_container "$1")-docker"
    else
        echo "$CLUSTER_ENGINES/$1"
    fi
}

# start_node NODE: NODE's container with its own engine, made once. Privileged
# enough for an engine inside: `--privileged` fails here ("unable to apply caps":
# this engine's bounding set lacks CAP_SYS_RESOURCE). The edge node publishes 80
# and 443 on this machine's 127.0.0.1; the db node (and its replacement) mounts the
# volume that stands for the droplet's block volume at /mnt/pgdata.
#
# The node's container holds its engine (dockerd, containerd, image pulls), not its
# tasks: those get control groups of their own beside it. So --cpu-shares 128 (an
# eighth of every task's 1024) lowers only the engines' work, which then cannot take
# the cores the four nodes' tasks share here (measured: tests/cluster/README.md).
start_node() {
    local node="$1" c dir extra=()
    c="$(node_container "$node")"
    host_docker container inspect "$c" >/dev/null 2>&1 && return 0
    if [[ " ${NODE_LABELS[$node]:-} " == *" edge "* ]]; then
        extra+=(-p 127.0.0.1:80:80 -p 127.0.0.1:443:443)
    fi
    if [ "${NODE_PGDATA[$node]:-0}" = 1 ]; then
        extra+=(-v "$CLUSTER_PGDATA_VOLUME:/mnt/pgdata")
    fi
    engines_mount
    test_cert "$CLUSTER_PKI" "$node" "DNS:$node,IP:${NODE_IP[$node]}" serverAuth
    dir="$CLUSTER_PKI/nodes/$node"
    mkdir -p "$dir"
    cp "$CLUSTER_PKI/ca.pem" "$dir/ca.pem"
    cp "$CLUSTER_PKI/$node.pem" "$dir/cert.pem"
    cp "$CLUSTER_PKI/$node-key.pem" "$dir/key.pem"
    host_docker run -d --name "$c" --hostname "$node" --label minitwit-cluster=1 \
        --network "$CLUSTER_NET" --ip "${NODE_IP[$node]}" "${extra[@]}" \
        --cpu-shares 128 --cap-add ALL --cap-drop SYS_RESOURCE --security-opt seccomp=unconfined \
        --security-opt apparmor=unconfined --security-opt systempaths=unconfined \
        -v /sys/fs/cgroup:/sys/fs/cgroup:rw --device /dev/fuse --tmpfs /run --tmpfs /tmp \
        -v "$(engine_store "$node"):/var/lib/docker" \
        -v "$dir:/etc/minitwit-node:ro" \
        -v "$CLUSTER_STATE/certs.d:/etc/docker/certs.d:ro" \
        --entrypoint /usr/bin/tini "$(base_image cluster-node "$NODE_PACKAGES")" -- \
        dockerd -H unix:///var/run/docker.sock -H tcp://0.0.0.0:2376 --tlsverify \
        --tlscacert /etc/minitwit-node/ca.pem --tlscert /etc/minitwit-node/cert.pem \
        --tlskey /etc/minitwit-node/key.pem --storage-driver overlay2 >/dev/null
}

# wait_engine NODE: until NODE's engine answers (60 s), else fails.
wait_engine() {
    local _
    for _ in $(seq 1 60); do
        on "$1" info --format '{{.ServerVersion}}' >/dev/null 2>&1 && return 0
        sleep 1
    done
    die "the engine of $1 does not answer: $(host_docker logs --tail 5 "$(node_container "$1")" 2>&1)"
}

# acme_peer_stop: stops the ACME CA and its DNS of check 15 (checks-stack.sh), if running.
acme_peer_stop() {
    [ -s "$CLUSTER_STATE/acme/pids" ] || return 0
    xargs -r kill -TERM <"$CLUSTER_STATE/acme/pids" 2>/dev/null || true
    rm -f "$CLUSTER_STATE/acme/pids"
}
