#!/usr/bin/env bash
# Dumps each MiniTwit database (pg_dump, custom format) to S3-compatible storage
# or a directory, prunes old backups, and records the outcome for Prometheus.
#
# Usage:
#   backup.sh --once        one backup now (exit status tells success)
#   backup.sh --schedule    run forever: a backup every day at BACKUP_TIME (UTC),
#                           at start-up too when the last success is older than
#                           a day, and a retry every BACKUP_RETRY_SECONDS after a
#                           failure (this is what the swarm `backup` service runs)
#   backup.sh --prune       only apply the retention policy
#
# Settings (environment):
#   PGHOST, PGPORT, PGUSER, PGPASSWORD or PGPASSWORD_FILE   the PostgreSQL server
#   BACKUP_DATABASES        databases to dump ("users messages follows")
#   BACKUP_TARGET           s3://bucket/prefix or file:///dir (see backup-lib.sh)
#   BACKUP_RETENTION_DAYS   date folders older than this are deleted (14); the
#                           newest BACKUP_MIN_KEEP_DAYS (3) are always kept
#   BACKUP_TIME             HH:MM UTC of the daily run (02:30)
#   BACKUP_RETRY_SECONDS    wait after a failed run (1800)
#   BACKUP_ALLOW_EMPTY      1: store a dump of a database without rows even when
#                           earlier backups of it exist (refused by default: a database
#                           that came back empty must not become the newest backup)
#   BACKUP_DB_WAIT_SECONDS  how long the start-up run waits for PostgreSQL to answer
#                           (300): deployed together, this service often starts first
#   BACKUP_TEXTFILE_DIR     if set, minitwit_backup.prom is written there for the
#                           node-exporter textfile collector; the alert
#                           MinitwitBackupMissing watches
#                           minitwit_backup_last_success_timestamp_seconds
#   BACKUP_RUN_AS           when started as root, drop to this user (the image
#                           sets "minitwit") after preparing the directories
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=backup-lib.sh
. "$here/backup-lib.sh"

BACKUP_TIME="${BACKUP_TIME:-02:30}"
BACKUP_RETRY_SECONDS="${BACKUP_RETRY_SECONDS:-1800}"
BACKUP_WORK_DIR="${BACKUP_WORK_DIR:-${TMPDIR:-/tmp}}"

if [ "$(id -u)" -eq 0 ] && [ -n "${BACKUP_RUN_AS:-}" ] && command -v setpriv >/dev/null 2>&1; then
    # Named volumes are created root-owned; make ours writable, then drop root.
    # A file:// target is a directory too (a mounted disk or volume).
    target_dir=""
    case "${BACKUP_TARGET:-}" in file://*) target_dir="${BACKUP_TARGET#file://}" ;; esac
    for dir in "${BACKUP_TEXTFILE_DIR:-}" "$BACKUP_WORK_DIR" "$target_dir"; do
        if [ -n "$dir" ]; then
            mkdir -p "$dir"
            chown "$BACKUP_RUN_AS" "$dir"
        fi
    done
    exec setpriv --reuid="$BACKUP_RUN_AS" --regid="$(id -g "$BACKUP_RUN_AS")" --init-groups \
        "${BASH_SOURCE[0]}" "$@"
fi

load_file_settings PGPASSWORD

metrics_file() { echo "${BACKUP_TEXTFILE_DIR}/minitwit_backup.prom"; }

# The last success recorded so far (0 when none), so a failure keeps it.
previous_success() {
    local file
    [ -n "${BACKUP_TEXTFILE_DIR:-}" ] || { echo 0; return; }
    file="$(metrics_file)"
    if [ -r "$file" ]; then
        awk '$1 == "minitwit_backup_last_success_timestamp_seconds" { v = $2 } END { print (v == "" ? 0 : v) }' "$file"
    else
        echo 0
    fi
}

# write_metrics SUCCESS(0|1) STARTED FINISHED SIZES(db=bytes ...)
write_metrics() {
    local ok="$1" started="$2" finished="$3" sizes="$4" last_success tmp pair
    [ -n "${BACKUP_TEXTFILE_DIR:-}" ] || return 0
    mkdir -p "$BACKUP_TEXTFILE_DIR"
    last_success="$(previous_success)"
    if [ "$ok" -eq 1 ]; then last_success="$finished"; fi
    tmp="$(mktemp "$BACKUP_TEXTFILE_DIR/.minitwit_backup.XXXXXX")"
    {
        echo "# HELP minitwit_backup_last_success_timestamp_seconds Unix time of the last backup run in which every database was dumped and stored."
        echo "# TYPE minitwit_backup_last_success_timestamp_seconds gauge"
        echo "minitwit_backup_last_success_timestamp_seconds $last_success"
        echo "# HELP minitwit_backup_last_run_timestamp_seconds Unix time at which the last backup run finished."
        echo "# TYPE minitwit_backup_last_run_timestamp_seconds gauge"
        echo "minitwit_backup_last_run_timestamp_seconds $finished"
        echo "# HELP minitwit_backup_last_run_success 1 if the last backup run succeeded, else 0."
        echo "# TYPE minitwit_backup_last_run_success gauge"
        echo "minitwit_backup_last_run_success $ok"
        echo "# HELP minitwit_backup_last_duration_seconds Duration of the last backup run."
        echo "# TYPE minitwit_backup_last_duration_seconds gauge"
        echo "minitwit_backup_last_duration_seconds $((finished - started))"
        echo "# HELP minitwit_backup_last_size_bytes Size of each database's dump in the last run."
        echo "# TYPE minitwit_backup_last_size_bytes gauge"
        for pair in $sizes; do
            echo "minitwit_backup_last_size_bytes{database=\"${pair%%=*}\"} ${pair#*=}"
        done
    } >"$tmp"
    chmod 0644 "$tmp"
    mv -f "$tmp" "$(metrics_file)"
}

prune() {
    local cutoff days count keep day
    cutoff="$(date -u -d "-${BACKUP_RETENTION_DAYS} days" +%F)"
    days="$(store_list_days)"
    count="$(printf '%s\n' "$days" | grep -c . || true)"
    keep=0
    # Newest first; never delete the newest BACKUP_MIN_KEEP_DAYS folders, however
    # old, so weeks of failed backups cannot leave us with none.
    for day in $(printf '%s\n' "$days" | LC_ALL=C sort -r); do
        keep=$((keep + 1))
        if [ "$keep" -le "$BACKUP_MIN_KEEP_DAYS" ]; then continue; fi
        if [[ "$day" < "$cutoff" ]]; then
            log INFO "retention: removing $day (older than ${BACKUP_RETENTION_DAYS} days)"
            store_remove_day "$day"
        fi
    done
    log INFO "retention: $count day folder(s) before pruning, cutoff $cutoff"
}

# database_empty DB: true when no table of DB but diesel's migration records holds a row
# (false when DB cannot be read: pg_dump then says why).
database_empty() {
    local tables table
    tables="$(psql -X -Atq --no-password -d "$1" -c "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename)
        FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
        AND tablename NOT LIKE '\_\_diesel%'" 2>/dev/null)" || return 1
    for table in $tables; do
        [ "$(psql -X -Atq --no-password -d "$1" -c "SELECT EXISTS (SELECT 1 FROM $table)" 2>/dev/null)" = f ] || return 1
    done
    return 0
}

run_backup() {
    local started finished stamp day work db file rel size sizes="" ok=1 stored=1
    started="$(date -u +%s)"
    stamp="$(date -u -d "@$started" +%Y%m%dT%H%M%SZ)"
    day="$(date -u -d "@$started" +%F)"
    work="$(mktemp -d "$BACKUP_WORK_DIR/minitwit-backup.XXXXXX")"

    for db in $BACKUP_DATABASES; do
        file="$work/${db}_${stamp}.dump"
        rel="$day/${db}_${stamp}.dump"
        # A database that came back empty (its volume lost, a new node) must not become
        # the newest backup: `restore.sh --date latest` would then restore nothing.
        if [ "${BACKUP_ALLOW_EMPTY:-0}" != 1 ] && database_empty "$db" && [ -n "$(latest_dump_of "$db")" ]; then
            log ERRO "database $db has no rows but earlier backups of it exist: not storing an empty dump as the newest (restore it first, or set BACKUP_ALLOW_EMPTY=1)"
            ok=0
            continue
        fi
        log INFO "dumping database $db"
        if ! pg_dump --format=custom --compress=6 --no-password --dbname="$db" --file="$file"; then
            log ERRO "pg_dump of $db failed"
            ok=0
            continue
        fi
        # A dump that pg_restore cannot read is no backup.
        if ! pg_restore --list "$file" >/dev/null; then
            log ERRO "dump of $db is unreadable"
            ok=0
            continue
        fi
        (cd "$work" && sha256sum "$(basename "$file")" >"$(basename "$file").sha256")
        size="$(stat -c %s "$file")"
        if [ "$stored" -eq 0 ]; then
            log ERRO "not uploading $rel: the storage failed for an earlier database in this run"
        elif store_put "$file" "$rel" && store_put "$file.sha256" "$rel.sha256"; then
            log INFO "stored $rel ($size bytes)"
            sizes="$sizes $db=$size"
        else
            log ERRO "upload of $rel failed"
            ok=0
            stored=0
        fi
        rm -f "$file" "$file.sha256"
    done
    rm -rf "$work"

    if [ "$ok" -eq 1 ]; then
        prune || log WARN "retention pruning failed (backups are stored)"
    fi
    finished="$(date -u +%s)"
    write_metrics "$ok" "$started" "$finished" "$sizes"
    if [ "$ok" -eq 1 ]; then
        log INFO "backup $stamp complete in $((finished - started))s"
        return 0
    fi
    log ERRO "backup $stamp failed"
    return 1
}

seconds_until_next_run() {
    local now next
    now="$(date -u +%s)"
    next="$(date -u -d "today $BACKUP_TIME" +%s)"
    if [ "$next" -le "$now" ]; then
        next="$(date -u -d "tomorrow $BACKUP_TIME" +%s)"
    fi
    echo $((next - now))
}

# sleep that a SIGTERM interrupts at once
pause() {
    sleep "$1" &
    wait $! || true
}

# Waits until PostgreSQL accepts connections, BACKUP_DB_WAIT_SECONDS at most (its
# service name resolves only once its task runs); a run after that reports what fails.
wait_for_database() {
    local deadline=$(( $(date -u +%s) + ${BACKUP_DB_WAIT_SECONDS:-300} ))
    until pg_isready --quiet --timeout=3; do
        if [ "$(date -u +%s)" -ge "$deadline" ]; then
            log WARN "PostgreSQL (${PGHOST:-local}:${PGPORT:-5432}) did not answer within ${BACKUP_DB_WAIT_SECONDS:-300}s"
            return 0
        fi
        pause 2
    done
}

schedule() {
    trap 'log INFO "stopping"; exit 0' TERM INT
    local last
    last="$(previous_success)"
    last="${last%.*}"
    if [ $(( $(date -u +%s) - last )) -gt 86400 ]; then
        log INFO "no successful backup in the last 24h: running one now"
        wait_for_database
        until run_backup; do
            log WARN "retrying in ${BACKUP_RETRY_SECONDS}s"
            pause "$BACKUP_RETRY_SECONDS"
        done
    fi
    while :; do
        local wait_s
        wait_s="$(seconds_until_next_run)"
        log INFO "next backup in ${wait_s}s (daily at $BACKUP_TIME UTC)"
        pause "$wait_s"
        until run_backup; do
            log WARN "retrying in ${BACKUP_RETRY_SECONDS}s"
            pause "$BACKUP_RETRY_SECONDS"
        done
    done
}

main() {
    store_init
    case "${1:---once}" in
        --once) run_backup ;;
        --schedule) schedule ;;
        --prune) prune ;;
        -h|--help) sed -n '2,30p' "${BASH_SOURCE[0]}" ;;
        *) die "unknown argument '$1' (use --once, --schedule or --prune)" ;;
    esac
}

main "$@"
