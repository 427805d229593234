#!/usr/bin/env bash
# Creates the Docker secrets the stack names (docker-stack.yml, `secrets:`) that do not
# exist yet: the four values an operator is given from a values file, every other one
# generated. Run it on a manager before the first deploy, and after raising a
# <NAME>_SECRET_VERSION in the settings to rotate one (deploy/README.md, Secrets).
#
# Usage: make-secrets.sh [--values FILE] [--env-file FILE] [--tls-dir DIR] [--dry-run]
#
#   --values FILE    the given values (default /etc/minitwit/secrets.env, readable by its
#                    owner only; deploy/secrets.env.example shows it):
#                      SIM_PASSWORD    the simulator's password (the course's simulator
#                                      sends simulator:super_safe!)
#                      SPACES_KEY, SPACES_SECRET   the backup bucket's key
#                                      (terraform output backup_spaces_access_key ...)
#                      SMTP_PASSWORD   the alert relay's password
#   --env-file FILE  the deploy settings (default /etc/minitwit/minitwit.env, as
#                    deploy.sh): each secret's name ends in its <NAME>_SECRET_VERSION
#   --tls-dir DIR    the internal CA and certificates (default /etc/minitwit/internal-tls)
#   --dry-run        print what would be created, create nothing
#
# Generated (openssl rand -hex, URL-safe): postgres_password, user_db_url,
# message_db_url, follow_db_url (a password per service), session_key, service_token,
# grafana_admin_password; and the internal TLS ones: internal_ca and <party>_tls, from
# deploy/scripts/internal-tls.sh (init, then secrets: a CA made on the first run).
# A secret that exists is never replaced. Exit status 2: a value is missing, empty or
# still the example's, or the values file is readable by others; nothing was created.
set -euo pipefail

refuse() {
    echo "make-secrets: $*" >&2
    exit 2
}
usage() { sed -n '2,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

values=/etc/minitwit/secrets.env
env_file=/etc/minitwit/minitwit.env
tls_dir=/etc/minitwit/internal-tls
dry_run=0
while [ $# -gt 0 ]; do
    case "$1" in
        --values) values="${2:?--values needs a file}"; shift 2 ;;
        --env-file) env_file="${2:?--env-file needs a file}"; shift 2 ;;
        --tls-dir) tls_dir="${2:?--tls-dir needs a directory}"; shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
done

# --- the given values -----------------------------------------------------------------
[ -r "$values" ] || refuse "cannot read $values: copy deploy/secrets.env.example there (install -m 0600) and fill it in"
case "$(stat -c %a "$values")" in
    *00) ;;
    *) refuse "$values is readable by others (mode $(stat -c %a "$values")): chmod 600 $values" ;;
esac
given=(SIM_PASSWORD SPACES_KEY SPACES_SECRET SMTP_PASSWORD)
unset "${given[@]}"
# NAME=value lines, read and never run as shell: a value is taken as written ($, spaces,
# quotes and all), but for one pair of quotes around it, which is removed. Comments and
# blank lines are skipped; a later line for a name wins; anything else is refused.
lineno=0
while IFS= read -r line || [ -n "$line" ]; do
    lineno=$((lineno + 1))
    line="${line%$'\r'}"
    [[ "$line" =~ ^[[:space:]]*(#.*)?$ ]] && continue
    [[ "$line" =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || refuse "$values line $lineno is not NAME=value"
    name="${BASH_REMATCH[1]}"
    value="${BASH_REMATCH[2]}"
    [[ " ${given[*]} " == *" $name "* ]] || refuse "$values line $lineno names $name, not one of ${given[*]}"
    if [[ "$value" =~ ^\'(.*)\'$ || "$value" =~ ^\"(.*)\"$ ]]; then value="${BASH_REMATCH[1]}"; fi
    printf -v "$name" '%s' "$value"
done <"$values"
bad=()
for v in "${given[@]}"; do
    case "${!v:-}" in
        "" | change-me*) bad+=("$v") ;;
    esac
done
[ "${#bad[@]}" -eq 0 ] || refuse "$values leaves ${bad[*]} empty or at the example's value"
# The password goes into a Basic credential, user:password: a ':' would end the user.
[[ "$SIM_PASSWORD" != *:* ]] || refuse "SIM_PASSWORD may not contain ':'"

# --- the versions -----------------------------------------------------------------------
if [ -r "$env_file" ]; then
    # shellcheck source=/dev/null
    . "$env_file"
fi
version() { # version SETTING: the secret version the deploy settings name (1)
    local v="${!1:-1}"
    [[ "$v" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] || refuse "$1 must be a version such as 2, not '$v'"
    printf '%s' "$v"
}

# Every version checked before anything is created.
for v in POSTGRES_PASSWORD USER_DB_URL MESSAGE_DB_URL FOLLOW_DB_URL SESSION_KEY SERVICE_TOKEN \
    SIM_AUTHORIZATION S3_KEYS GRAFANA_ADMIN_PASSWORD SMTP_PASSWORD INTERNAL_TLS; do
    version "${v}_SECRET_VERSION" >/dev/null
done

hex() { openssl rand -hex "$1"; }
created=0
kept=0
# secret NAME VERSION_SETTING VALUE
secret() {
    local name
    name="minitwit_$1_$(version "$2")"
    if docker secret inspect --format '{{.ID}}' "$name" >/dev/null 2>&1; then
        echo "exists   $name (kept)"
        kept=$((kept + 1))
        return 0
    fi
    if [ "$dry_run" = 1 ]; then
        echo "would create $name"
    else
        printf '%s' "$3" | docker secret create "$name" - >/dev/null
        echo "created  $name"
    fi
    created=$((created + 1))
}

command -v openssl >/dev/null 2>&1 || refuse "openssl is required"
secret postgres_password POSTGRES_PASSWORD_SECRET_VERSION "$(hex 24)"
secret user_db_url USER_DB_URL_SECRET_VERSION "postgres://minitwit_users:$(hex 24)@postgres:5432/users"
secret message_db_url MESSAGE_DB_URL_SECRET_VERSION "postgres://minitwit_messages:$(hex 24)@postgres:5432/messages"
secret follow_db_url FOLLOW_DB_URL_SECRET_VERSION "postgres://minitwit_follows:$(hex 24)@postgres:5432/follows"
secret session_key SESSION_KEY_SECRET_VERSION "$(hex 64)"
secret service_token SERVICE_TOKEN_SECRET_VERSION "$(hex 32)"
secret sim_authorization SIM_AUTHORIZATION_SECRET_VERSION "Basic $(printf 'simulator:%s' "$SIM_PASSWORD" | base64 -w0)"
secret s3_access_key_id S3_KEYS_SECRET_VERSION "$SPACES_KEY"
secret s3_secret_access_key S3_KEYS_SECRET_VERSION "$SPACES_SECRET"
secret grafana_admin_password GRAFANA_ADMIN_PASSWORD_SECRET_VERSION "$(hex 16)"
secret smtp_password SMTP_PASSWORD_SECRET_VERSION "$SMTP_PASSWORD"
echo "make-secrets: $created $([ "$dry_run" = 1 ] && echo "to create" || echo created), $kept kept"

# The internal CA, the services' and callers' certificates, and their secrets.
internal_tls="$(dirname "${BASH_SOURCE[0]}")/internal-tls.sh"
if [ "$dry_run" = 1 ]; then
    if [ -s "$tls_dir/ca.pem" ]; then
        "$internal_tls" secrets --dir "$tls_dir" --env-file "$env_file" --dry-run
    else
        echo "would create the internal CA and certificates in $tls_dir, and their secrets"
    fi
else
    "$internal_tls" init --dir "$tls_dir" >/dev/null
    "$internal_tls" secrets --dir "$tls_dir" --env-file "$env_file"
fi
