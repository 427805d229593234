# shellcheck shell=bash
# Shared by the swarm scripts (sourced, not run).

log() { printf '[swarm %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

# need_cmd COMMAND PACKAGE: installs Debian's PACKAGE when COMMAND is missing
# (tests/lib/apt.sh).
# shellcheck source=tests/lib/apt.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/apt.sh"
need_cmd() { need_pkg "$1" "$2"; }

# docker_build ARGS...: `docker build` with BuildKit (needed for the Dockerfile's
# unused stages to be skipped). Uses buildx when the client has it, else a client
# that still drives the engine's built-in BuildKit (Debian's docker.io 20.10 does).
docker_build() {
    if docker buildx version >/dev/null 2>&1; then
        docker buildx build --load "$@"
        return
    fi
    local client
    for client in $(type -ap docker); do
        if DOCKER_BUILDKIT=1 "$client" build --help 2>/dev/null | grep -q -- '--secret'; then
            DOCKER_BUILDKIT=1 "$client" build "$@"
            return
        fi
    done
    die "no docker client can build with BuildKit: install docker-buildx"
}

# The engine must answer, and swarm mode must be available.
docker_ready() { docker info --format '{{.ServerVersion}}' >/dev/null 2>&1; }

# Where the swarm scripts keep their state between up and down: the test
# certificate, PostgreSQL's data directory, what up.sh changed on the machine.
SWARM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SWARM_STATE="${SWARM_STATE:-$SWARM_ROOT/target/swarm}"
STACK="${STACK:-minitwit}"
# Secrets of the test are named minitwit_<name>_swarmtest: never an operator's.
# shellcheck disable=SC2034 # used by the scripts that source this file
SECRET_VERSION=swarmtest

# The settings file of the test deployment (the stack's variables).
SWARM_ENV="$SWARM_STATE/minitwit.env"

# deploy_release TAG RECORD: deploys release TAG through the operators' own
# deploy script (deploy/scripts/deploy.sh) with the test override; exits as it does.
deploy_release() {
    "$SWARM_ROOT/deploy/scripts/deploy.sh" --env-file "$SWARM_ENV" --tag "$1" --record "$2" \
        --timeout 300 --compose-file "$SWARM_ROOT/tests/swarm/stack.test.yml" "$STACK"
}

# converge SECONDS [SINCE]: waits with the operators' own
# deploy/scripts/wait-converged.sh until every service of the stack runs what it
# should, ignoring update states from before SINCE (epoch seconds, default now);
# prints the seconds it took. Its log: $SWARM_STATE/converge.log.
converge() {
    local start=$SECONDS
    "$SWARM_ROOT/deploy/scripts/wait-converged.sh" --since "${2:-$(date +%s)}" --interval 2 \
        --timeout "$1" "$STACK" >>"$SWARM_STATE/converge.log" 2>&1 || return 1
    echo $((SECONDS - start))
}

# base_image NAME PACKAGES: prints the image name, building it when missing.
base_image() {
    local name="$1" packages="$2" key image
    key="$(printf 'bookworm minbase %s v1' "$packages" | sha256sum | cut -c1-12)"
    image="minitwit-test/base-$name:$key"
    if ! docker image inspect "$image" >/dev/null 2>&1; then
        need_cmd mmdebstrap mmdebstrap
        log "building $image from Debian's packages ($packages)"
        # Docs, man pages and translations are not needed in a container. The
        # hook's "$1" is the root file system, expanded by mmdebstrap.
        # shellcheck disable=SC2016
        mmdebstrap --quiet --variant=minbase --include="$packages" \
            --dpkgopt='path-exclude=/usr/share/man/*' \
            --dpkgopt='path-exclude=/usr/share/doc/*' \
            --dpkgopt='path-exclude=/usr/share/locale/*' \
            --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
            bookworm - | docker import - "$image" >/dev/null
    fi
    echo "$image"
}

# test_ca, test_cert: tests/lib/certs.sh
# shellcheck source=tests/lib/certs.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/certs.sh"
# shellcheck source=tests/lib/moto.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/moto.sh"

# s3_peer STATE IP PKI: the stack's backup storage, an S3 peer (moto over TLS,
# tests/lib/moto.sh) run by this machine on https://IP:S3_PEER_PORT, where IP is this
# machine's address on the network the nodes reach it by; a certificate for IP from
# the test CA in PKI; the bucket the settings name (test_env_settings). Started once:
# its pid in STATE/s3.pid, for s3_peer_stop. Sets S3_PEER_ENDPOINT and S3_PEER_CA.
S3_PEER_PORT="${S3_PEER_PORT:-9443}"
S3_PEER_BUCKET=minitwit-backups
s3_peer() {
    local state="$1" ip="$2" pki="$3"
    S3_PEER_ENDPOINT="https://$ip:$S3_PEER_PORT"
    S3_PEER_CA="$pki/ca.pem"
    if ! { [ -s "$state/s3.pid" ] && kill -0 "$(cat "$state/s3.pid")" 2>/dev/null; }; then
        test_cert "$pki" "s3-$ip" "IP:$ip" serverAuth
        log "S3 peer (moto) on $S3_PEER_ENDPOINT"
        moto_start "$SWARM_ROOT/target/moto-venv" "$ip" "$S3_PEER_PORT" "$pki" "s3-$ip" "$state/s3.log" \
            || die "the S3 peer did not start"
        echo "$MOTO_PID" >"$state/s3.pid"
    fi
    # (moto keeps buckets in memory; creating one that exists is a no-op.)
    curl -fsS -o /dev/null --cacert "$S3_PEER_CA" -X PUT "$S3_PEER_ENDPOINT/$S3_PEER_BUCKET" \
        || die "cannot create the bucket $S3_PEER_BUCKET on $S3_PEER_ENDPOINT"
}
s3_peer_stop() {
    [ -s "$1/s3.pid" ] || return 0
    kill -TERM "$(cat "$1/s3.pid")" 2>/dev/null || true
    rm -f "$1/s3.pid"
}

# test_secrets: the secrets the stack names, as minitwit_<name>_swarmtest, on the
# swarm `docker` reaches, made as an operator makes them: deploy/scripts/make-secrets.sh
# (its internal CA and certificates kept in $SWARM_STATE/internal-tls)
# from a values file (the course's simulator credential, a bucket key the S3 peer
# accepts, the relay's password) and the settings' versions. Made once; down.sh
# removes them. Needs s3_peer first (the settings name it).
test_secrets() {
    local values="$SWARM_STATE/secrets.env" versions="$SWARM_STATE/secret-versions.env"
    if [ ! -s "$values" ]; then
        (
            umask 077
            printf '%s\n' "SIM_PASSWORD=super_safe!" "SPACES_KEY=backup-test-key" \
                "SPACES_SECRET=$(openssl rand -hex 20)" "SMTP_PASSWORD=$(openssl rand -hex 16)" >"$values"
        )
    fi
    test_env_settings >"$versions"
    "$SWARM_ROOT/deploy/scripts/make-secrets.sh" --values "$values" --env-file "$versions" \
        --tls-dir "$SWARM_STATE/internal-tls" >/dev/null \
        || die "deploy/scripts/make-secrets.sh failed"
}

# test_env_settings: the deploy settings both tests share (the stack's variables);
# the caller adds REGISTRY, TAG, REGISTRY_AUTH, RESOLVE_IMAGE and PGDATA_PATH.
test_env_settings() {
    cat <<ENV
DOMAIN=localhost
ACME_EMAIL=ops@localhost
SIM_ALLOW_LIST=*
BACKUP_BUCKET=$S3_PEER_BUCKET
S3_PROVIDER=Other
S3_ENDPOINT=${S3_PEER_ENDPOINT:?s3_peer first}
S3_REGION=us-east-1
TEST_PKI=${S3_PEER_CA%/ca.pem}
ALERT_EMAIL_TO=ops@localhost
ALERT_EMAIL_FROM=alerts@localhost
ALERT_SMTP_SMARTHOST=mailsink:2525
ALERT_SMTP_USERNAME=alerts@localhost
ALERT_HEARTBEAT_URL=http://mailsink:8080/heartbeat
ENV
    local s
    for s in POSTGRES_PASSWORD USER_DB_URL MESSAGE_DB_URL FOLLOW_DB_URL SESSION_KEY SERVICE_TOKEN \
        SIM_AUTHORIZATION S3_KEYS GRAFANA_ADMIN_PASSWORD SMTP_PASSWORD INTERNAL_TLS; do
        echo "${s}_SECRET_VERSION=$SECRET_VERSION"
    done
}

# tls_volume IMAGE DIR: the volume nginx and certbot share (STACK_tls), on the
# engine `docker` reaches (which may be another machine's: the files go through
# stdin), holding DIR's localhost.pem + ca.pem as fullchain.pem and
# localhost-key.pem as privkey.pem; IMAGE is any image with a shell and tar.
tls_volume() {
    local dir="$2" staged
    staged="$(mktemp -d)"
    cat "$dir/localhost.pem" "$dir/ca.pem" >"$staged/fullchain.pem"
    cp "$dir/localhost-key.pem" "$staged/privkey.pem"
    chmod 0644 "$staged/fullchain.pem"
    chmod 0600 "$staged/privkey.pem"
    docker volume create --label "com.docker.stack.namespace=$STACK" "${STACK}_tls" >/dev/null
    # from a registry where there is one (quietly: docker run would print the pull)
    docker pull -q "$1" >/dev/null 2>&1 || true
    tar -C "$staged" -cf - fullchain.pem privkey.pem \
        | docker run --rm -i -v "${STACK}_tls:/tls" --entrypoint tar "$1" -xpf - -C /tls
    rm -rf "$staged"
}
