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

# --- secrets ----------------------------------------------------------------------
secret() {
    local name="minitwit_$1_$SECRET_VERSION"
    docker secret inspect "$name" >/dev/null 2>&1 || printf '%s' "$2" | docker secret create "$name" - >/dev/null
}
hex() { openssl rand -hex "$1"; }
secret postgres_password "$(hex 24)"
secret user_db_url "postgres://minitwit_users:$(hex 24)@postgres:5432/users"
secret message_db_url "postgres://minitwit_messages:$(hex 24)@postgres:5432/messages"
secret follow_db_url "postgres://minitwit_follows:$(hex 24)@postgres:5432/follows"
secret session_key "$(hex 64)"
secret service_token "$(hex 32)"
secret sim_authorization "${MINITWIT_SIM_AUTH:-Basic c2ltdWxhdG9yOnN1cGVyX3NhZmUh}"
secret s3_access_key_id unused-in-the-test
secret s3_secret_access_key unused-in-the-test
secret grafana_admin_password "$(hex 16)"
secret smtp_password unused-by-the-mail-sink

# --- the test certificate, in the volume certbot and nginx share ---------------------
tls="$SWARM_STATE/tls"
if [ ! -s "$tls/fullchain.pem" ]; then
    # A test CA (what clients trust: ca.pem) and a server certificate for
    # localhost signed by it; a self-signed CA certificate would not do, since
    # TLS libraries such as rustls refuse a CA certificate as a server's.
    mkdir -p "$tls"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
        -subj "/CN=MiniTwit swarm test CA" -keyout "$tls/ca-key.pem" -out "$tls/ca.pem" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
        -keyout "$tls/privkey.pem" -out "$tls/server.csr" 2>/dev/null
    printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=CA:FALSE" \
        "extendedKeyUsage=serverAuth" >"$tls/server.ext"
    openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca-key.pem" \
        -CAcreateserial -days 30 -extfile "$tls/server.ext" -out "$tls/server.pem" 2>/dev/null
    cat "$tls/server.pem" "$tls/ca.pem" >"$tls/fullchain.pem"
fi
docker volume create --label "com.docker.stack.namespace=$STACK" "${STACK}_tls" >/dev/null
docker run --rm -v "${STACK}_tls:/tls" -v "$tls:/src:ro" --entrypoint /bin/sh \
    "minitwit-test/nginx:standin" -c 'cp /src/fullchain.pem /src/privkey.pem /tls/ && chmod 0644 /tls/fullchain.pem && chmod 0600 /tls/privkey.pem'

# --- settings and deploy ---------------------------------------------------------------
mkdir -p "$SWARM_STATE/pgdata/postgres"
cat >"$SWARM_ENV" <<ENV
# The swarm test's deploy settings (deploy/scripts/deploy.sh reads only this file).
REGISTRY=minitwit-test
TAG=$TAG
REGISTRY_AUTH=none
RESOLVE_IMAGE=never
DOMAIN=localhost
ACME_EMAIL=ops@localhost
SIM_ALLOW_LIST=*
BACKUP_BUCKET=unused
S3_ENDPOINT=http://unused.invalid
S3_REGION=unused
PGDATA_PATH=$SWARM_STATE/pgdata
ALERT_EMAIL_TO=ops@localhost
ALERT_EMAIL_FROM=alerts@localhost
ALERT_SMTP_SMARTHOST=mailsink:2525
ALERT_SMTP_REQUIRE_TLS=false
$(for s in POSTGRES_PASSWORD USER_DB_URL MESSAGE_DB_URL FOLLOW_DB_URL SESSION_KEY SERVICE_TOKEN SIM_AUTHORIZATION \
    S3_KEYS GRAFANA_ADMIN_PASSWORD SMTP_PASSWORD; do echo "${s}_SECRET_VERSION=$SECRET_VERSION"; done)
ENV
log "deploy/scripts/deploy.sh: stack $STACK, release $TAG"
start=$SECONDS
deploy_release "$TAG" "$SWARM_STATE/deploy-$TAG.json" >"$SWARM_STATE/deploy-$TAG.log" 2>&1 \
    || { tail -20 "$SWARM_STATE/deploy-$TAG.log" >&2; die "the first deploy failed"; }
took=$((SECONDS - start))
log "converged in ${took} s: MiniTwit on https://localhost (trust $tls/ca.pem)"
echo "$took" >"$SWARM_STATE/first-converge-seconds"
