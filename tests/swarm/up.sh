#!/usr/bin/env bash
# make swarm-up: MiniTwit's real stack on this machine's Docker engine, from images
# built offline (images.sh), left running for a person or for run.sh:
#   https://localhost         MiniTwit and the simulator API, through nginx (TLS with
#                             a certificate of a test CA: target/swarm/tls/ca.pem)
#   Prometheus, Alertmanager  on the stack's `monitoring` network, as the runbook says
# It makes a one-node swarm if the engine is not in one (and down.sh leaves it),
# labels the node db/edge/monitoring, creates the secrets (named *_swarmtest) and
# deploys docker-stack.yml with tests/swarm/stack.test.yml.
#
# Env: TAG (a), SKIP_IMAGES=1 to reuse the images of an earlier run.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/swarm/lib.sh
. "$here/lib.sh"
TAG="${TAG:-a}"

docker_ready || die "no Docker engine answers (docker info)"
mkdir -p "$SWARM_STATE"
# nginx publishes 80 and 443 on the host (host mode, as in production).
if ! docker stack ls --format '{{.Name}}' 2>/dev/null | grep -qx "$STACK" \
    && ss -ltn 2>/dev/null | awk '{print $4}' | grep -Eq ':(80|443)$'; then
    die "port 80 or 443 is taken on this machine (ss -ltnp): stop what listens there first"
fi

if [ "${SKIP_IMAGES:-0}" != 1 ]; then
    TAG="$TAG" "$here/images.sh"
fi

# --- swarm and node labels ----------------------------------------------------
if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != active ]; then
    log "docker swarm init"
    docker network inspect docker_gwbridge >/dev/null 2>&1 || touch "$SWARM_STATE/made-gwbridge"
    docker swarm init --advertise-addr 127.0.0.1 >/dev/null
    touch "$SWARM_STATE/made-swarm"
fi
node="$(docker info --format '{{.Swarm.NodeID}}')"
for label in db edge monitoring; do
    if [ "$(docker node inspect --format "{{index .Spec.Labels \"$label\"}}" "$node")" != true ]; then
        docker node update --label-add "$label=true" "$node" >/dev/null
        echo "$label" >>"$SWARM_STATE/added-labels"
    fi
done

# --- the test certificates (nginx's in the volume certbot and nginx share), the S3
# peer, the secrets ---------------------------------------------------------------------
tls="$SWARM_STATE/tls"
test_ca "$tls"
test_cert "$tls" localhost "DNS:localhost,IP:127.0.0.1" serverAuth
test_cert "$tls" mailsink "DNS:mailsink" serverAuth
tls_volume "minitwit-test/nginx:standin" "$tls"
# Backups leave the stack through the ingress bridge for this machine, as they leave a
# droplet for Spaces.
s3_peer "$SWARM_STATE" "$(docker network inspect docker_gwbridge --format '{{(index .IPAM.Config 0).Gateway}}')" "$tls"
test_secrets

# --- settings and deploy ---------------------------------------------------------------
mkdir -p "$SWARM_STATE/pgdata/postgres"
{
    echo "# The one-node stack's deploy settings (deploy/scripts/deploy.sh reads only this file)."
    echo "REGISTRY=minitwit-test"
    echo "TAG=$TAG"
    echo "REGISTRY_AUTH=none"
    echo "RESOLVE_IMAGE=never"
    echo "PGDATA_PATH=$SWARM_STATE/pgdata"
    test_env_settings
} >"$SWARM_ENV"
log "deploy/scripts/deploy.sh: stack $STACK, release $TAG"
start=$SECONDS
deploy_release "$TAG" "$SWARM_STATE/deploy-$TAG.json" >"$SWARM_STATE/deploy-$TAG.log" 2>&1 \
    || { tail -20 "$SWARM_STATE/deploy-$TAG.log" >&2; die "the first deploy failed"; }
took=$((SECONDS - start))
log "converged in ${took} s: MiniTwit on https://localhost (trust $tls/ca.pem)"
echo "$took" >"$SWARM_STATE/first-converge-seconds"
