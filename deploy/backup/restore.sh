#!/usr/bin/env bash
# Restores MiniTwit databases from the dumps backup.sh made.
#
# Usage:
#   restore.sh --list                          what is there to restore
#   restore.sh [--date YYYY-MM-DD|latest] --yes [DATABASE ...]
#        replace each DATABASE (default: all of BACKUP_DATABASES) with its newest
#        dump of that day. The database is dropped and re-created from the dump,
#        with its original owner and grants (pg_restore --create --clean).
#        Connections to it are refused and ended first, so stop (scale to 0) the
#        service that owns it before, and start it again after.
#   restore.sh [--date ...] --into NEW_NAME DATABASE
#        restore one dump into another database (created if missing, objects
#        owned by the connecting user): for inspection, nothing is replaced.
#
# Settings: the same environment as backup.sh (PGHOST, PGPORT, PGUSER,
# PGPASSWORD[_FILE], BACKUP_TARGET, S3_*); see backup-lib.sh.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=backup-lib.sh
. "$here/backup-lib.sh"

usage() { sed -n '2,20p' "${BASH_SOURCE[0]}"; }

day=latest
into=""
confirmed=0
list_only=0
databases=()
while [ $# -gt 0 ]; do
    case "$1" in
        --date) day="${2:?--date needs YYYY-MM-DD or latest}"; shift 2 ;;
        --date=*) day="${1#--date=}"; shift ;;
        --into) into="${2:?--into needs a database name}"; shift 2 ;;
        --into=*) into="${1#--into=}"; shift ;;
        --yes|-y) confirmed=1; shift ;;
        --list) list_only=1; shift ;;
        -h|--help) usage; exit 0 ;;
        -*) die "unknown option $1" ;;
        *) databases+=("$1"); shift ;;
    esac
done
if [ "${#databases[@]}" -eq 0 ]; then
    read -r -a databases <<<"$BACKUP_DATABASES"
fi
if [ "$day" != latest ] && ! [[ "$day" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]]; then
    die "--date must be YYYY-MM-DD or latest, not '$day'"
fi

load_file_settings PGPASSWORD
store_init

if [ "$list_only" -eq 1 ]; then
    store_list_dumps
    exit 0
fi
if [ -n "$into" ] && [ "${#databases[@]}" -ne 1 ]; then
    die "--into restores exactly one database"
fi
if [ -z "$into" ] && [ "$confirmed" -ne 1 ]; then
    die "this replaces ${databases[*]} with the dumps of $day: add --yes to go ahead"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/minitwit-restore.XXXXXX")"
trap 'rm -rf "$work"' EXIT

psql_admin() {
    psql --no-password --no-psqlrc -v ON_ERROR_STOP=1 --dbname=postgres -Atq "$@"
}

# psql variables are not interpolated in -c strings, hence stdin.
db_exists() {
    psql_admin -v db="$1" <<'SQL'
SELECT count(*) FROM pg_database WHERE datname = :'db';
SQL
}

fetch_dump() {
    local db="$1" rel local_file
    rel="$(latest_dump_of "$db" "$day")"
    [ -n "$rel" ] || die "no dump of '$db' found for '$day' under $BACKUP_TARGET"
    local_file="$work/$(basename "$rel")"
    log INFO "fetching $rel"
    store_get "$rel" "$local_file"
    if store_get "$rel.sha256" "$local_file.sha256" 2>/dev/null; then
        (cd "$work" && sha256sum --check --quiet "$(basename "$local_file").sha256") \
            || die "checksum mismatch for $rel"
    else
        log WARN "no checksum file for $rel"
    fi
    pg_restore --list "$local_file" >/dev/null || die "$rel is not a readable pg_dump archive"
    printf '%s\n' "$local_file"
}

restore_in_place() {
    local db="$1" file="$2"
    if [ "$(db_exists "$db")" != 0 ]; then
        # Refuse new connections (service pools reconnect at once), end the
        # current ones, then let pg_restore drop and re-create the database.
        psql_admin -v db="$db" >/dev/null <<'SQL'
SELECT format('ALTER DATABASE %I WITH ALLOW_CONNECTIONS false', :'db') \gexec
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
 WHERE datname = :'db' AND pid <> pg_backend_pid();
SQL
    fi
    log INFO "restoring $db from $(basename "$file")"
    pg_restore --no-password --create --clean --if-exists --exit-on-error \
        --dbname=postgres "$file"
    # The re-created database takes its settings from the dump; make sure it
    # accepts connections whatever the state at dump time.
    psql_admin -v db="$db" >/dev/null <<'SQL'
SELECT format('ALTER DATABASE %I WITH ALLOW_CONNECTIONS true', :'db') \gexec
SQL
}

restore_into() {
    local target="$1" file="$2"
    if [ "$(db_exists "$target")" = 0 ]; then
        psql_admin -v db="$target" >/dev/null <<'SQL'
SELECT format('CREATE DATABASE %I', :'db') \gexec
SQL
    fi
    log INFO "restoring $(basename "$file") into $target"
    pg_restore --no-password --clean --if-exists --no-owner --no-acl --exit-on-error \
        --dbname="$target" "$file"
}

for db in "${databases[@]}"; do
    file="$(fetch_dump "$db")"
    if [ -n "$into" ]; then
        restore_into "$into" "$file"
    else
        restore_in_place "$db" "$file"
    fi
    rm -f "$file" "$file.sha256"
done
log INFO "restore of ${databases[*]} ($day) complete"
