#!/usr/bin/env bash
# make swarm-down: removes what up.sh made: the stack, its volumes, the test
# secrets, the node labels it added and the swarm if it made it. The Debian base
# images are kept (images.sh names them after their package lists); the app and
# stand-in images are removed unless KEEP_IMAGES=1.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/swarm/lib.sh
. "$here/lib.sh"

docker_ready || die "no Docker engine answers (docker info)"
s3_peer_stop "$SWARM_STATE"
if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = active ]; then
    if docker stack ls --format '{{.Name}}' | grep -qx "$STACK"; then
        log "docker stack rm $STACK"
        docker stack rm "$STACK" >/dev/null
    fi
    # Tasks stop, then their containers and networks go.
    for _ in $(seq 1 60); do
        [ -z "$(docker ps -aq --filter "label=com.docker.stack.namespace=$STACK")" ] \
            && [ -z "$(docker network ls -q --filter "label=com.docker.stack.namespace=$STACK")" ] && break
        sleep 2
    done
    secrets="$(docker secret ls --format '{{.Name}}' | grep "^minitwit_.*_${SECRET_VERSION}\$" || true)"
    # shellcheck disable=SC2086 # one name per word
    [ -z "$secrets" ] || docker secret rm $secrets >/dev/null
    node="$(docker info --format '{{.Swarm.NodeID}}')"
    if [ -f "$SWARM_STATE/added-labels" ]; then
        while read -r label; do
            docker node update --label-rm "$label" "$node" >/dev/null 2>&1 || true
        done <"$SWARM_STATE/added-labels"
    fi
    if [ -f "$SWARM_STATE/made-swarm" ]; then
        log "docker swarm leave (up.sh made this swarm)"
        docker swarm leave --force >/dev/null
        if [ -f "$SWARM_STATE/made-gwbridge" ]; then
            docker network rm docker_gwbridge >/dev/null 2>&1 || true
        fi
    fi
fi
vols="$(docker volume ls -q --filter "label=com.docker.stack.namespace=$STACK")"
# shellcheck disable=SC2086 # one name per word
[ -z "$vols" ] || docker volume rm $vols >/dev/null
if [ "${KEEP_IMAGES:-0}" != 1 ]; then
    imgs="$(docker images --format '{{.Repository}}:{{.Tag}}' | grep '^minitwit-test/' | grep -v '^minitwit-test/base-' || true)"
    # shellcheck disable=SC2086
    [ -z "$imgs" ] || docker rmi $imgs >/dev/null
fi
rm -rf "$SWARM_STATE"
log "removed"
