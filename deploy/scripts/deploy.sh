#!/usr/bin/env bash
# Deploy (or update) the MiniTwit stack from this checkout: the one deploy
# path, used by the operator (deploy/README.md) and by CI
# (.github/workflows/deploy-stack.yml) alike. Runs on a swarm manager.
#
# Every setting comes from ONE env file kept on the manager (not in git):
#   --env-file FILE, else $MINITWIT_ENV_FILE, else /etc/minitwit/minitwit.env,
#   else ~/minitwit.env.
# The script runs with a clean environment, so a variable left exported in the
# caller's shell cannot change a deploy; only --tag and --registry are taken on
# top of the file (CI passes the release it deploys). It refuses to deploy when
# a required setting is missing or a secret the stack names does not exist, and,
# without --tag, when the settings' TAG is not the release the stack runs.
#
# Then: config object versions (deploy/config-versions.sh), a snapshot of every
# service, `docker stack deploy --with-registry-auth --resolve-image changed`,
# a second snapshot (the deploy record: the marker that something was
# deployed, and what rollback.sh needs), and wait-converged.sh.
#
# Registry credentials: --with-registry-auth hands the swarm the credentials of
# the docker config in use, and the swarm keeps using them for every later pull
# (rescheduled tasks, scale-ups). So they must be the long-lived, read-only pull
# credential the operator stored once on the manager (deploy/README.md), never a
# CI job's short-lived token: the docker config is REGISTRY_DOCKER_CONFIG, else
# /etc/minitwit/docker when it exists, else the user's own.
#
# usage: deploy.sh [--env-file FILE] [--tag TAG] [--registry PREFIX]
#                  [--record FILE] [--timeout SECONDS] [--no-wait]
#                  [--compose-file FILE]... [STACK]
#   --record FILE        where to write the deploy record (default
#                        ~/.local/state/minitwit/deploys/STACK-<time>.json, and
#                        the link last-STACK.json beside it)
#   --compose-file FILE  extra compose file merged over docker-stack.yml
#   --no-wait            do not wait for convergence
#   STACK                default minitwit
#
# Settings (env file): required REGISTRY TAG DOMAIN ACME_EMAIL SIM_ALLOW_LIST
# BACKUP_BUCKET S3_ENDPOINT S3_REGION ALERT_EMAIL_TO ALERT_EMAIL_FROM
# ALERT_SMTP_SMARTHOST; optional: everything else docker-stack.yml reads
# (its header lists them), and for this script
#   REGISTRY_AUTH              unset: a pull credential for REGISTRY must be stored
#                              (deploy/README.md); "none" for public images
#   REGISTRY_DOCKER_CONFIG     directory of the docker config with the pull credential
#   RESOLVE_IMAGE (changed)    docker stack deploy --resolve-image: changed asks the
#                              registry only for image references that changed, so a
#                              floating upstream tag is not re-resolved (and its
#                              service restarted) by an unrelated release; never
#                              for images that exist only locally
#   DEPLOY_TIMEOUT (600)       seconds to wait for convergence
#
# Exit status: 0 deployed and converged; 1 the deploy or the convergence
# failed (roll back with rollback.sh --record <record>); 2 refused before
# anything was deployed (usage, settings, credential, secrets).
set -euo pipefail

# A clean environment: the env file is the only source of settings.
if [ -z "${MINITWIT_DEPLOY_CLEAN_ENV:-}" ]; then
  keep=(MINITWIT_DEPLOY_CLEAN_ENV=1 "HOME=${HOME:-/root}" "PATH=$PATH")
  for v in USER LOGNAME LANG LC_ALL TERM TMPDIR DOCKER_HOST DOCKER_CONTEXT DOCKER_CONFIG \
    DOCKER_TLS_VERIFY DOCKER_CERT_PATH MINITWIT_ENV_FILE MINITWIT_STATE_DIR; do
    if [ -n "${!v:-}" ]; then keep+=("$v=${!v}"); fi
  done
  exec env -i "${keep[@]}" bash "$0" "$@"
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=deploy/scripts/swarm-lib.sh
. "$here/swarm-lib.sh"

log() { printf '[deploy] %s\n' "$*"; }
refuse() {
  printf '[deploy] refusing to deploy: %s\n' "$*" >&2
  exit 2
}

env_file="${MINITWIT_ENV_FILE:-}"
tag=""
registry=""
record=""
timeout=""
wait=true
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --env-file) env_file="$2"; shift 2 ;;
    --tag) tag="$2"; shift 2 ;;
    --registry) registry="$2"; shift 2 ;;
    --record) record="$2"; shift 2 ;;
    --timeout) timeout="$2"; shift 2 ;;
    --no-wait) wait=false; shift ;;
    --compose-file | -c)
      [ -f "$2" ] || refuse "no compose file $2"
      extra+=(-c "$(cd "$(dirname "$2")" && pwd)/$(basename "$2")")
      shift 2
      ;;
    -h | --help) sed -n '2,/^set -e/s/^# \{0,1\}//p' "$0"; exit 0 ;;
    -*) echo "unknown option: $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -le 1 ] || { echo "usage: $0 [options] [STACK]" >&2; exit 2; }
stack="${1:-minitwit}"
swarm_require_jq

# --- settings ---------------------------------------------------------------
if [ -z "$env_file" ]; then
  for f in /etc/minitwit/minitwit.env "$HOME/minitwit.env"; do
    if [ -f "$f" ]; then env_file="$f"; break; fi
  done
fi
[ -n "$env_file" ] || refuse "no env file: create /etc/minitwit/minitwit.env (deploy/README.md, First deploy)"
[ -r "$env_file" ] || refuse "cannot read the env file $env_file"
log "settings from $env_file"
set -a +u
# shellcheck source=/dev/null
. "$env_file"
set +a -u
if [ -n "$tag" ]; then TAG="$tag"; fi
if [ -n "$registry" ]; then REGISTRY="$registry"; fi
export TAG REGISTRY

required=(REGISTRY TAG DOMAIN ACME_EMAIL SIM_ALLOW_LIST BACKUP_BUCKET S3_ENDPOINT S3_REGION
  ALERT_EMAIL_TO ALERT_EMAIL_FROM ALERT_SMTP_SMARTHOST)
missing=()
for v in "${required[@]}"; do
  if [ -z "${!v:-}" ]; then missing+=("$v"); fi
done
[ "${#missing[@]}" -eq 0 ] || refuse "$env_file does not set ${missing[*]}"
for v in $(compgen -v | grep -E '_REPLICAS$' || true); do
  [[ "${!v}" =~ ^[0-9]+$ ]] || refuse "$v must be a whole number, not '${!v}'"
done
# a secret's version ends its name: what Docker allows in a name, no more
for v in $(compgen -v | grep -E '_SECRET_VERSION$' || true); do
  [[ "${!v}" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] || refuse "$v must be a version such as 2, not '${!v}'"
done
for v in DOMAIN ACME_EMAIL ALERT_EMAIL_TO; do
  case "${!v}" in
    *example.org | *example.com | *example.net) log "warning: $v is still an example value (${!v})" >&2 ;;
  esac
done
RESOLVE_IMAGE="${RESOLVE_IMAGE:-changed}"
case "$RESOLVE_IMAGE" in
  always | changed | never) ;;
  *) refuse "RESOLVE_IMAGE must be always, changed or never, not '$RESOLVE_IMAGE'" ;;
esac
timeout="${timeout:-${DEPLOY_TIMEOUT:-600}}"

# --- pull credential ----------------------------------------------------------
config_dir="${REGISTRY_DOCKER_CONFIG:-}"
if [ -z "$config_dir" ] && [ -f /etc/minitwit/docker/config.json ]; then
  config_dir=/etc/minitwit/docker
fi
config_dir="${config_dir:-${DOCKER_CONFIG:-$HOME/.docker}}"
export DOCKER_CONFIG="$config_dir"
registry_host="${REGISTRY%%/*}"
case "$registry_host" in
  *.* | *:* | localhost) ;;
  *) registry_host="https://index.docker.io/v1/" ;;
esac
if [ "${REGISTRY_AUTH:-required}" = "none" ]; then
  log "REGISTRY_AUTH=none: pulling $REGISTRY without credentials"
elif [ -r "$config_dir/config.json" ] &&
  jq -e --arg h "$registry_host" '((.auths // {})[$h] != null) or ((.credHelpers // {})[$h] != null)' \
    "$config_dir/config.json" >/dev/null 2>&1; then
  log "pull credential for $registry_host from $config_dir/config.json"
else
  refuse "no pull credential for $registry_host in $config_dir/config.json: log in once with the
  read-only token (deploy/README.md, Registry credential), or set REGISTRY_AUTH=none for public images"
fi

# --- the release ---------------------------------------------------------------
# Without --tag, TAG comes from the settings, which CI never updates (it passes
# --tag): redeploying for a setting or a secret must not install another release.
running=$(swarm_inspect_stack "$stack" | jq -r --arg n "${stack}_gateway" \
  '.[] | select(.Spec.Name == $n) | .Spec.Labels["com.docker.stack.image"] // empty')
if [ -z "$tag" ] && [ -n "$running" ] && [ "$running" != "$REGISTRY/gateway:$TAG" ]; then
  refuse "the stack runs $running, the settings say TAG=$TAG: pass --tag (the release to run)"
fi

# --- config object versions, rendered stack, secrets --------------------------
cd "$root"
eval "$("$root/deploy/config-versions.sh")"
compose=(-c "$root/docker-stack.yml" "${extra[@]}")

if docker stack config --help >/dev/null 2>&1; then
  rendered=$(docker stack config "${compose[@]}") || refuse "docker stack config failed (see above)"
  # names of the external secrets: the top-level secrets section
  secrets=$(awk '
    function flush() { if (ext && name != "") print name; name = ""; ext = 0 }
    /^[^ ]/ { flush(); in_secrets = ($0 == "secrets:"); next }
    !in_secrets { next }
    /^  [^ ]/ { flush(); next }
    /^    name: / { name = $2; gsub(/"/, "", name) }
    /^    external: true/ { ext = 1 }
    END { flush() }' <<<"$rendered")
  absent=()
  for s in $secrets; do
    docker secret inspect --format '{{.ID}}' "$s" >/dev/null 2>&1 || absent+=("$s")
  done
  [ "${#absent[@]}" -eq 0 ] || refuse "missing Docker secrets: ${absent[*]} (deploy/README.md, Secrets and Rotate a secret)"
else
  log "warning: this docker CLI has no 'docker stack config'; secrets not checked" >&2
fi

# --- deploy -------------------------------------------------------------------
if [ -z "$record" ]; then
  state_dir="${MINITWIT_STATE_DIR:-$HOME/.local/state/minitwit}/deploys"
  mkdir -p "$state_dir"
  record="$state_dir/$stack-$(date -u +%Y%m%dT%H%M%SZ).json"
  ln -sfn "$(basename "$record")" "$state_dir/last-$stack.json"
fi
mkdir -p "$(dirname "$record")"
rm -f "$record"

since=$(date +%s)
swarm_snapshot "$stack" >"$record.before"
log "deploying $REGISTRY/*:$TAG as stack $stack (resolve-image $RESOLVE_IMAGE)"
deploy_status=0
docker stack deploy --with-registry-auth --resolve-image "$RESOLVE_IMAGE" --detach=true \
  "${compose[@]}" "$stack" || deploy_status=$?

# Whatever its exit status, `docker stack deploy` may have changed services:
# record what it did, now. This file is the marker that there is something to
# roll back.
after=$(mktemp)
swarm_snapshot "$stack" >"$after" || echo '{}' >"$after"
jq -n --arg stack "$stack" --arg tag "$TAG" --arg registry "$REGISTRY" \
  --argjson since "$since" --argjson status "$deploy_status" \
  --slurpfile before "$record.before" --slurpfile after "$after" \
  '{stack: $stack, tag: $tag, registry: $registry, since: $since, deploy_status: $status,
    before: $before[0], after: $after[0]}' >"$record.tmp"
mv "$record.tmp" "$record"
rm -f "$record.before" "$after"
changed=$(jq -r '.before as $b | .after | to_entries[]
  | select($b[.key] == null or $b[.key].spec != .value.spec) | .key' "$record" | tr '\n' ' ')
log "deploy record: $record"
log "services changed by this deploy: ${changed:-none}"

if [ "$deploy_status" -ne 0 ]; then
  log "docker stack deploy failed (exit $deploy_status)" >&2
  log "roll back: $here/rollback.sh --record $record $stack" >&2
  exit 1
fi
if [ "$wait" != true ]; then
  exit 0
fi
if ! "$here/wait-converged.sh" --record "$record" --timeout "$timeout" "$stack"; then
  log "not converged; roll back: $here/rollback.sh --record $record $stack" >&2
  exit 1
fi
log "deployed $TAG"
