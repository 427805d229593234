# shellcheck shell=bash
# Shared by the swarm scripts (sourced, not run).

log() { printf '[swarm %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

# need_cmd COMMAND PACKAGE: installs Debian's PACKAGE when COMMAND is missing.
need_cmd() {
    command -v "$1" >/dev/null 2>&1 && return 0
    log "installing $2 with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "$2" >/dev/null
}

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
