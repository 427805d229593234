#!/usr/bin/env bash
# make cluster-down: removes what up.sh made: the test nodes (and with them the
# swarm, the stack and everything on them), their engines' tmpfs (or volumes), the
# registry and its images, the network, this machine's trust of the registry, the
# state under target/cluster. The Debian base images are kept (named after their
# package lists); the app and stand-in images on this machine's engine are removed
# unless KEEP_IMAGES=1.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/cluster/lib.sh
. "$here/lib.sh"
# The nodes, the registry and the network are containers of this machine's engine:
# never of a node the caller's shell points at (run.sh's does).
unset DOCKER_HOST DOCKER_TLS_VERIFY DOCKER_CERT_PATH

docker_ready || die "no Docker engine answers (docker info)"
s3_peer_stop "$CLUSTER_STATE"
acme_peer_stop
containers="$(docker ps -aq --filter label=minitwit-cluster=1)"
# shellcheck disable=SC2086 # one id per word
[ -z "$containers" ] || docker rm -f -v $containers >/dev/null
for node in "${CLUSTER_NODES[@]}" replacement replacement2 registry; do
    for v in "$(node_container "$node")-docker" "$(node_container "$node")-data"; do
        if docker volume inspect "$v" >/dev/null 2>&1; then docker volume rm "$v" >/dev/null; fi
    done
done
engines_unmount
if docker volume inspect "$CLUSTER_PGDATA_VOLUME" >/dev/null 2>&1; then docker volume rm "$CLUSTER_PGDATA_VOLUME" >/dev/null; fi
if docker network inspect "$CLUSTER_NET" >/dev/null 2>&1; then docker network rm "$CLUSTER_NET" >/dev/null; fi
if [ -f "$CLUSTER_STATE/made-host-certs-d" ]; then
    rm -rf "$(cat "$CLUSTER_STATE/made-host-certs-d")"
fi
if [ "${KEEP_IMAGES:-0}" != 1 ]; then
    imgs="$(docker images --format '{{.Repository}}:{{.Tag}}' \
        | grep -E "^minitwit-test/|^$REGISTRY_HOST/" | grep -v -e '^minitwit-test/base-' -e ':<none>$' || true)"
    # shellcheck disable=SC2086 # one name per word
    [ -z "$imgs" ] || docker rmi $imgs >/dev/null
fi
rm -rf "$CLUSTER_STATE"
log "removed"
