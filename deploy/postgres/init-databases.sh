#!/usr/bin/env bash
# Creates one role and one database per MiniTwit service, on the first start of
# the PostgreSQL container (files in /docker-entrypoint-initdb.d run only while
# the data directory is empty).
#
# Each service's connection URL (a Docker secret, the same file the service reads
# through <PREFIX>_DATABASE__URL_FILE) is the single source of truth for its role
# name, password and database name:
#     postgres://<role>:<password>@postgres:5432/<database>
# Passwords must be URL-safe (e.g. `openssl rand -hex 24`), since they are not
# percent-decoded here.
set -euo pipefail

SECRETS_DIR="${SECRETS_DIR:-/run/secrets}"

create_from_url() {
    local file="$1" url rest creds role password database
    if [ ! -s "$file" ]; then
        echo "init-databases: $file is missing or empty" >&2
        return 1
    fi
    url="$(tr -d '\r\n' <"$file")"
    rest="${url#*://}"              # role:password@host:port/database?params
    creds="${rest%%@*}"             # role:password
    role="${creds%%:*}"
    password="${creds#*:}"
    database="${rest##*/}"
    database="${database%%\?*}"
    if [ -z "$role" ] || [ -z "$password" ] || [ "$password" = "$creds" ] || [ -z "$database" ]; then
        echo "init-databases: cannot parse role, password and database from $file" >&2
        return 1
    fi
    echo "init-databases: role \"$role\", database \"$database\""
    psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
        -v role="$role" -v password="$password" -v database="$database" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'role', :'password')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'database', :'role')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'database') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'database') \gexec
SQL
}

create_from_url "$SECRETS_DIR/user_db_url"
create_from_url "$SECRETS_DIR/message_db_url"
create_from_url "$SECRETS_DIR/follow_db_url"
