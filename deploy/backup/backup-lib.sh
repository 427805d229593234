#!/usr/bin/env bash
# Shared by backup.sh and restore.sh: settings, secrets from *_FILE, and the
# storage backend behind BACKUP_TARGET.
#
#   BACKUP_TARGET=s3://bucket/prefix   S3-compatible storage through rclone
#                                      (S3_ENDPOINT, S3_REGION, S3_PROVIDER,
#                                       S3_ACCESS_KEY_ID[_FILE], S3_SECRET_ACCESS_KEY[_FILE],
#                                       S3_CA_FILE: a CA bundle to trust instead of the
#                                       system's, for storage behind a private CA)
#   BACKUP_TARGET=file:///some/dir     a local directory (tests, or a mounted disk)
#
# Layout under the target: <YYYY-MM-DD>/<database>_<YYYYMMDDTHHMMSSZ>.dump
# (pg_dump custom format) and a .sha256 file beside each dump.
# shellcheck shell=bash

BACKUP_DATABASES="${BACKUP_DATABASES:-users messages follows}"
BACKUP_RETENTION_DAYS="${BACKUP_RETENTION_DAYS:-14}"
BACKUP_MIN_KEEP_DAYS="${BACKUP_MIN_KEEP_DAYS:-3}"
# Each transfer: 3 attempts 10 s apart, each with 3 low-level retries. rclone's
# defaults (and 10 low-level retries) spent 8 minutes per file on an endpoint that
# refused connections, so a run with its storage down took most of an hour to say so.
RCLONE_RETRY_FLAGS=(--retries 3 --retries-sleep 10s --low-level-retries 3 --contimeout 10s --timeout 5m)

log() {
    # JSON lines, like the services, so the log store parses them the same way.
    local level="$1"; shift
    local msg="$*"
    msg="${msg//\\/\\\\}"
    msg="${msg//\"/\\\"}"
    printf '{"time":"%s","level":"%s","service":"backup","msg":"%s"}\n' \
        "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$level" "$msg" >&2
}

die() { log ERRO "$*"; exit 1; }

# NAME_FILE=/path sets NAME to the file's content (Docker secrets), for each NAME given.
load_file_settings() {
    local name file
    for name in "$@"; do
        file="${name}_FILE"
        if [ -n "${!file:-}" ]; then
            [ -r "${!file}" ] || die "$file points at ${!file}, which is not readable"
            export "$name"="$(tr -d '\r\n' <"${!file}")"
        fi
    done
}

# Sets STORE_KIND (file|s3) and STORE_ROOT (a directory, or an rclone remote path).
store_init() {
    local target="${BACKUP_TARGET:?set BACKUP_TARGET to s3://bucket/prefix or file:///dir}"
    case "$target" in
        file://*)
            STORE_KIND="file"
            STORE_ROOT="${target#file://}"
            [ -n "$STORE_ROOT" ] || die "BACKUP_TARGET file:// needs an absolute path"
            mkdir -p "$STORE_ROOT"
            ;;
        s3://*)
            STORE_KIND="s3"
            command -v rclone >/dev/null 2>&1 || die "rclone is required for s3:// targets"
            load_file_settings S3_ACCESS_KEY_ID S3_SECRET_ACCESS_KEY
            : "${S3_ACCESS_KEY_ID:?S3_ACCESS_KEY_ID or S3_ACCESS_KEY_ID_FILE is required}"
            : "${S3_SECRET_ACCESS_KEY:?S3_SECRET_ACCESS_KEY or S3_SECRET_ACCESS_KEY_FILE is required}"
            # rclone reads a remote's whole configuration from RCLONE_CONFIG_<NAME>_*;
            # no config file (else a NOTICE that there is none, on every call).
            export RCLONE_CONFIG="${RCLONE_CONFIG:-/dev/null}"
            export RCLONE_CONFIG_MINITWITS3_TYPE=s3
            export RCLONE_CONFIG_MINITWITS3_PROVIDER="${S3_PROVIDER:-Other}"
            export RCLONE_CONFIG_MINITWITS3_ENDPOINT="${S3_ENDPOINT:-}"
            export RCLONE_CONFIG_MINITWITS3_REGION="${S3_REGION:-}"
            export RCLONE_CONFIG_MINITWITS3_ACCESS_KEY_ID="$S3_ACCESS_KEY_ID"
            export RCLONE_CONFIG_MINITWITS3_SECRET_ACCESS_KEY="$S3_SECRET_ACCESS_KEY"
            export RCLONE_CONFIG_MINITWITS3_ACL=private
            export RCLONE_CONFIG_MINITWITS3_NO_CHECK_BUCKET=true
            # rclone's S3 client fails on AWS_CA_BUNDLE ("LoadCustomCABundleError:
            # unsupported transport"); a CA bundle reaches rclone as RCLONE_CA_CERT.
            local ca="${S3_CA_FILE:-${AWS_CA_BUNDLE:-}}"
            unset AWS_CA_BUNDLE
            if [ -n "$ca" ]; then
                [ -r "$ca" ] || die "S3_CA_FILE points at $ca, which is not readable"
                export RCLONE_CA_CERT="$ca"
            fi
            STORE_ROOT="minitwits3:${target#s3://}"
            STORE_ROOT="${STORE_ROOT%/}"
            ;;
        *)
            die "unsupported BACKUP_TARGET '$target' (use s3://bucket/prefix or file:///dir)"
            ;;
    esac
}

# store_put LOCAL_FILE RELATIVE_PATH
store_put() {
    local src="$1" rel="$2"
    case "$STORE_KIND" in
        file)
            mkdir -p "$(dirname "$STORE_ROOT/$rel")"
            cp "$src" "$STORE_ROOT/$rel.partial"
            mv -f "$STORE_ROOT/$rel.partial" "$STORE_ROOT/$rel"
            ;;
        s3)
            rclone copyto "${RCLONE_RETRY_FLAGS[@]}" "$src" "$STORE_ROOT/$rel"
            ;;
    esac
}

# store_get RELATIVE_PATH LOCAL_FILE
store_get() {
    local rel="$1" dst="$2"
    case "$STORE_KIND" in
        file) cp "$STORE_ROOT/$rel" "$dst" ;;
        s3) rclone copyto "${RCLONE_RETRY_FLAGS[@]}" "$STORE_ROOT/$rel" "$dst" ;;
    esac
}

# Every dump, as relative paths, oldest first.
store_list_dumps() {
    case "$STORE_KIND" in
        file)
            (cd "$STORE_ROOT" && find . -mindepth 2 -maxdepth 2 -type f -name '*.dump' | sed 's|^\./||')
            ;;
        s3)
            rclone lsf -R --files-only --include '*.dump' "$STORE_ROOT"
            ;;
    esac | LC_ALL=C sort
}

# The date folders (YYYY-MM-DD), oldest first.
store_list_days() {
    case "$STORE_KIND" in
        file)
            (cd "$STORE_ROOT" && find . -mindepth 1 -maxdepth 1 -type d | sed 's|^\./||')
            ;;
        s3)
            rclone lsf --dirs-only "$STORE_ROOT" | sed 's|/$||'
            ;;
    esac | grep -E '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' | LC_ALL=C sort || true
}

# store_remove_day YYYY-MM-DD
store_remove_day() {
    case "$STORE_KIND" in
        file) rm -rf -- "${STORE_ROOT:?}/$1" ;;
        s3) rclone purge "$STORE_ROOT/$1" ;;
    esac
}

# The newest dump of DATABASE, on DAY (YYYY-MM-DD) or on any day ("latest").
latest_dump_of() {
    local db="$1" day="${2:-latest}" pattern
    pattern="/${db}_[0-9]{8}T[0-9]{6}Z\.dump$"
    if [ "$day" = latest ]; then
        store_list_dumps | grep -E "$pattern" | tail -n 1 || true
    else
        store_list_dumps | grep -E "^${day}${pattern}" | tail -n 1 || true
    fi
}
