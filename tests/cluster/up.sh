#!/usr/bin/env bash
# make cluster-up: MiniTwit's real stack on a swarm of four test nodes (three
# managers and a worker, tests/cluster/README.md), its images pulled by the nodes
# from a registry of the test's own with TLS and a password, left running for a
# person or for run.sh. MiniTwit answers on https://localhost (the edge node's 443;
# trust target/cluster/tls/ca.pem). Ends by printing how to drive each node:
#
#   export DOCKER_HOST=tcp://172.31.250.11:2376 DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=...
#   docker -H tcp://172.31.250.12:2376 --tlsverify ... (one line per node)
#
# Env: TAG (a), SKIP_IMAGES=1 to reuse the host's images of an earlier run.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/cluster/lib.sh
. "$here/lib.sh"
# The nodes, the registry and the network are containers of this machine's engine:
# never of a node the caller's shell points at (run.sh's does).
unset DOCKER_HOST DOCKER_TLS_VERIFY DOCKER_CERT_PATH
TAG="${TAG:-a}"
root="$SWARM_ROOT"

docker_ready || die "no Docker engine answers (docker info)"
for c in jq openssl curl; do need_cmd "$c" "$c"; done
remove_foreign_cluster
mkdir -p "$CLUSTER_STATE"
if ! docker container inspect "$(node_container manager2)" >/dev/null 2>&1 \
    && ss -ltn 2>/dev/null | awk '{print $4}' | grep -Eq '^127\.0\.0\.1:(80|443)$|^(0\.0\.0\.0|\*|\[::\]):(80|443)$'; then
    die "port 80 or 443 is taken on this machine (ss -ltnp): stop what listens there first (make swarm-down?)"
fi

# --- images ---------------------------------------------------------------------
if [ "${SKIP_IMAGES:-0}" != 1 ]; then
    TAG="$TAG" "$here/../swarm/images.sh"
fi
node_image="$(base_image cluster-node "$NODE_PACKAGES")"

# --- the test CA: the registry's, each engine's and the client's certificates ----------
pki="$CLUSTER_PKI"
test_ca "$pki"
test_cert "$pki" localhost "DNS:localhost,IP:127.0.0.1" serverAuth
test_cert "$pki" registry "IP:$REGISTRY_IP" serverAuth
test_cert "$pki" client "DNS:operator" clientAuth
test_cert "$pki" mailsink "DNS:mailsink" serverAuth
mkdir -p "$pki/client"
cp "$pki/ca.pem" "$pki/client/ca.pem"
cp "$pki/client.pem" "$pki/client/cert.pem"
cp "$pki/client-key.pem" "$pki/client/key.pem"
# Every engine trusts the registry's CA: the nodes through a mounted certs.d, this
# machine's engine (which pushes) through its own, removed again by down.sh.
mkdir -p "$CLUSTER_STATE/certs.d/$REGISTRY_HOST"
cp "$pki/ca.pem" "$CLUSTER_STATE/certs.d/$REGISTRY_HOST/ca.crt"
# (Always copied: one left by an earlier run that was not taken down is another CA's.)
[ -d "/etc/docker/certs.d/$REGISTRY_HOST" ] || echo "/etc/docker/certs.d/$REGISTRY_HOST" >"$CLUSTER_STATE/made-host-certs-d"
mkdir -p "/etc/docker/certs.d/$REGISTRY_HOST"
cp "$pki/ca.pem" "/etc/docker/certs.d/$REGISTRY_HOST/ca.crt"

# --- the network, the S3 peer and the registry ----------------------------------------------
if ! docker network inspect "$CLUSTER_NET" >/dev/null 2>&1; then
    log "network $CLUSTER_NET ($CLUSTER_SUBNET)"
    docker network create --subnet "$CLUSTER_SUBNET" --gateway "$HOST_IP" --label minitwit-cluster=1 "$CLUSTER_NET" >/dev/null \
        || die "cannot create $CLUSTER_NET on $CLUSTER_SUBNET: set CLUSTER_SUBNET to a free /24"
fi
# Backups leave the db node for this machine's address on the network, as they leave a
# droplet for Spaces.
s3_peer "$CLUSTER_STATE" "$HOST_IP" "$pki"
registry_password_file="$CLUSTER_STATE/registry-password"
[ -s "$registry_password_file" ] || openssl rand -hex 16 >"$registry_password_file"
registry="$(node_container registry)"
if ! docker container inspect "$registry" >/dev/null 2>&1; then
    log "registry on https://$REGISTRY_HOST (Debian's docker-registry, htpasswd, TLS)"
    mkdir -p "$CLUSTER_STATE/registry"
    docker run --rm --entrypoint htpasswd "$node_image" -Bbn "$REGISTRY_USER" "$(cat "$registry_password_file")" \
        >"$CLUSTER_STATE/registry/htpasswd"
    cat >"$CLUSTER_STATE/registry/config.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: /var/lib/docker-registry
  delete:
    enabled: true
http:
  addr: :5000
  tls:
    certificate: /etc/registry/tls/registry.pem
    key: /etc/registry/tls/registry-key.pem
auth:
  htpasswd:
    realm: minitwit-cluster
    path: /etc/registry/htpasswd
YAML
    mkdir -p "$CLUSTER_STATE/registry/tls"
    cp "$pki/registry.pem" "$pki/registry-key.pem" "$CLUSTER_STATE/registry/tls/"
    docker run -d --name "$registry" --label minitwit-cluster=1 --network "$CLUSTER_NET" --ip "$REGISTRY_IP" \
        -v "$CLUSTER_STATE/registry/config.yml:/etc/registry/config.yml:ro" \
        -v "$CLUSTER_STATE/registry/htpasswd:/etc/registry/htpasswd:ro" \
        -v "$CLUSTER_STATE/registry/tls:/etc/registry/tls:ro" \
        -v "${registry}-data:/var/lib/docker-registry" \
        --entrypoint /usr/bin/docker-registry "$node_image" serve /etc/registry/config.yml >/dev/null
fi
for _ in $(seq 1 30); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$pki/ca.pem" "https://$REGISTRY_HOST/v2/")" = 401 ] && break
    sleep 1
done
[ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$pki/ca.pem" "https://$REGISTRY_HOST/v2/")" = 401 ] \
    || die "the registry does not answer 401 on https://$REGISTRY_HOST/v2/: $(docker logs --tail 5 "$registry" 2>&1)"

# --- push the release through the operators' push script ----------------------------------
mkdir -p "$CLUSTER_DOCKER_CONFIG"
host_docker login --username "$REGISTRY_USER" --password-stdin "$REGISTRY_HOST" \
    <"$registry_password_file" >/dev/null 2>&1 || die "docker login $REGISTRY_HOST failed"
log "pushing release $TAG and the stand-ins to $CLUSTER_REGISTRY"
push() {
    DOCKER_CONFIG="$CLUSTER_DOCKER_CONFIG" "$root/deploy/scripts/push.sh" \
        --registry "$CLUSTER_REGISTRY" --source minitwit-test "$@" >>"$CLUSTER_STATE/push.log"
}
push --tag "$TAG"
# shellcheck disable=SC2046 # one name per word
push --tag standin $(cd "$root/tests/swarm/standins" && ls)

# --- the nodes ---------------------------------------------------------------------------------
for node in "${CLUSTER_NODES[@]}"; do
    start_node "$node"
done
for node in "${CLUSTER_NODES[@]}"; do
    wait_engine "$node"
done

# --- the swarm: three managers, one worker, the labels ----------------------------------------
if [ "$(on manager1 info --format '{{.Swarm.LocalNodeState}}')" != active ]; then
    log "docker swarm init on manager1 (${NODE_IP[manager1]})"
    on manager1 swarm init --advertise-addr "${NODE_IP[manager1]}" >/dev/null
fi
manager_token="$(on manager1 swarm join-token -q manager)"
worker_token="$(on manager1 swarm join-token -q worker)"
for node in manager2 manager3 worker1; do
    [ "$(on "$node" info --format '{{.Swarm.LocalNodeState}}')" = active ] && continue
    token="$worker_token"
    [[ "$node" == manager* ]] && token="$manager_token"
    on "$node" swarm join --advertise-addr "${NODE_IP[$node]}" --token "$token" "${NODE_IP[manager1]}:2377" >/dev/null
done
for node in "${CLUSTER_NODES[@]}"; do
    for label in ${NODE_LABELS[$node]}; do
        on manager1 node update --label-add "$label=true" "$node" >/dev/null
    done
done
log "swarm: $(on manager1 node ls --format '{{.Hostname}}:{{.ManagerStatus}}' | tr '\n' ' ')"

# --- secrets, the test certificate, PostgreSQL's directory ------------------------------------
use_node manager1
test_secrets
# The certificate nginx serves, in the volume nginx and certbot share on the edge node.
(use_node manager2 && tls_volume "$CLUSTER_REGISTRY/nginx:standin" "$pki")
host_docker exec "$(node_container manager1)" mkdir -p /mnt/pgdata/postgres

# --- settings and deploy ---------------------------------------------------------------------
{
    echo "# The cluster test's deploy settings (deploy/scripts/deploy.sh reads only this file)."
    echo "REGISTRY=$CLUSTER_REGISTRY"
    echo "TAG=$TAG"
    echo "REGISTRY_DOCKER_CONFIG=$CLUSTER_DOCKER_CONFIG"
    echo "PGDATA_PATH=/mnt/pgdata"
    test_env_settings
} >"$SWARM_ENV"
log "deploy/scripts/deploy.sh from this machine to manager1: stack $STACK, release $TAG"
start=$SECONDS
deploy_release "$TAG" "$CLUSTER_STATE/deploy-$TAG.json" >"$CLUSTER_STATE/deploy-$TAG.log" 2>&1 \
    || { tail -20 "$CLUSTER_STATE/deploy-$TAG.log" >&2; die "the first deploy failed"; }
took=$((SECONDS - start))
echo "$took" >"$CLUSTER_STATE/first-converge-seconds"
log "converged in ${took} s: MiniTwit on https://localhost (trust $pki/ca.pem)"
echo "export $(node_env manager1)"
for node in "${CLUSTER_NODES[@]}"; do
    echo "docker -H tcp://${NODE_IP[$node]}:2376 --tlsverify --tlscacert $pki/client/ca.pem --tlscert $pki/client/cert.pem --tlskey $pki/client/key.pem  # $node"
done
