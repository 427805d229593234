#!/usr/bin/env bash
# Backup round trip on a real PostgreSQL, through the real binaries:
#
#   1. create three fresh databases, start user-, message-, follow-service and the
#      gateway on free ports against them;
#   2. through the gateway's simulator API: register users, post messages, follow,
#      record a `latest` value; read everything back (the "before" snapshot);
#   3. deploy/backup/backup.sh --once into a local directory (BACKUP_TARGET=file://),
#      check the Prometheus textfile it writes;
#   4. write more data (which the restore must undo), stop the services, DROP the
#      three databases;
#   5. deploy/backup/restore.sh --yes, start the services again, read everything
#      back through the API: it must equal the "before" snapshot.
#
# Environment: BIN_DIR (target/debug) holds the binaries; MINITWIT_TEST_DATABASE_URL
# (postgres://postgres@127.0.0.1:5432/postgres) is an admin connection.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$PWD"

bin_dir="${BIN_DIR:-target/debug}"
case "$bin_dir" in /*) ;; *) bin_dir="$repo/$bin_dir" ;; esac
admin_url="${MINITWIT_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
auth="Basic c2ltdWxhdG9yOnN1cGVyX3NhZmUh"
services=(user-service message-service follow-service gateway)

for s in "${services[@]}"; do
    [ -x "$bin_dir/$s" ] || { echo "backup_roundtrip: $bin_dir/$s is missing (cargo build --bins)" >&2; exit 1; }
done
for tool in curl jq python3 psql pg_dump pg_restore; do
    command -v "$tool" >/dev/null || { echo "backup_roundtrip: $tool is required" >&2; exit 1; }
done

# PG* variables from the admin URL, for psql and the backup scripts.
eval "$(python3 - "$admin_url" <<'PY'
import shlex, sys
from urllib.parse import urlsplit, unquote
u = urlsplit(sys.argv[1])
print("export PGHOST=%s" % shlex.quote(u.hostname or "127.0.0.1"))
print("export PGPORT=%s" % shlex.quote(str(u.port or 5432)))
print("export PGUSER=%s" % shlex.quote(unquote(u.username or "postgres")))
if u.password:
    print("export PGPASSWORD=%s" % shlex.quote(unquote(u.password)))
PY
)"
pg_userinfo="$PGUSER${PGPASSWORD:+:$PGPASSWORD}"

suffix="$(date +%s)_$$"
db_users="mt_backup_users_$suffix"
db_messages="mt_backup_messages_$suffix"
db_follows="mt_backup_follows_$suffix"
databases=("$db_users" "$db_messages" "$db_follows")

work="$(mktemp -d "${TMPDIR:-/tmp}/minitwit-backup-test.XXXXXX")"
pids=()
passed=0
failed=0

stop_services() {
    local pid
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    pids=()
}

cleanup() {
    local status=$?
    stop_services
    for db in "${databases[@]}"; do
        psql -X -q -d postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
    done
    if [ "$status" -ne 0 ]; then
        echo "backup_roundtrip: FAILED; last service log lines:" >&2
        for s in "${services[@]}"; do
            [ -f "$work/$s.log" ] && { echo "--- $s" >&2; tail -n 15 "$work/$s.log" >&2; }
        done
    fi
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

check() {
    # check DESCRIPTION COMMAND...: records a pass or a failure, never exits
    local what="$1"; shift
    if "$@"; then
        passed=$((passed + 1))
        echo "ok   $what"
    else
        failed=$((failed + 1))
        echo "FAIL $what" >&2
    fi
}

# shellcheck source=tests/lib/ports.sh
. tests/lib/ports.sh
read -r port_user port_message port_follow port_gateway < <(free_ports 4)
gateway="http://127.0.0.1:$port_gateway"

start_services() {
    local common=(RUST_BACKTRACE=1)
    env "${common[@]}" \
        USER_SERVICE_HTTP__PORT="$port_user" USER_SERVICE_LOG__FORMAT=json \
        USER_SERVICE_DATABASE__URL="postgres://$pg_userinfo@$PGHOST:$PGPORT/$db_users" \
        "$bin_dir/user-service" >>"$work/user-service.log" 2>&1 &
    pids+=($!)
    env "${common[@]}" \
        MESSAGE_SERVICE_HTTP__PORT="$port_message" MESSAGE_SERVICE_LOG__FORMAT=json \
        MESSAGE_SERVICE_DATABASE__URL="postgres://$pg_userinfo@$PGHOST:$PGPORT/$db_messages" \
        "$bin_dir/message-service" >>"$work/message-service.log" 2>&1 &
    pids+=($!)
    env "${common[@]}" \
        FOLLOW_SERVICE_HTTP__PORT="$port_follow" FOLLOW_SERVICE_LOG__FORMAT=json \
        FOLLOW_SERVICE_DATABASE__URL="postgres://$pg_userinfo@$PGHOST:$PGPORT/$db_follows" \
        "$bin_dir/follow-service" >>"$work/follow-service.log" 2>&1 &
    pids+=($!)
    printf '%s\n' "$auth" >"$work/sim_authorization"
    env "${common[@]}" \
        GATEWAY_HTTP__PORT="$port_gateway" GATEWAY_LOG__FORMAT=json \
        GATEWAY_SERVICES__USER_URL="http://127.0.0.1:$port_user" \
        GATEWAY_SERVICES__MESSAGE_URL="http://127.0.0.1:$port_message" \
        GATEWAY_SERVICES__FOLLOW_URL="http://127.0.0.1:$port_follow" \
        GATEWAY_SIM__AUTHORIZATION_FILE="$work/sim_authorization" \
        "$bin_dir/gateway" >>"$work/gateway.log" 2>&1 &
    pids+=($!)

    local port deadline
    for port in "$port_user" "$port_message" "$port_follow" "$port_gateway"; do
        deadline=$((SECONDS + 60))
        until curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/ready" 2>/dev/null; do
            if [ "$SECONDS" -ge "$deadline" ]; then
                echo "backup_roundtrip: the process on port $port never became ready" >&2
                return 1
            fi
            sleep 0.2
        done
    done
}

urlenc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }

# sim METHOD PATH [JSON]: prints the status code; the body goes to $work/body
sim() {
    local method="$1" path="$2" body="${3:-}"
    local args=(-sS -o "$work/body" -w '%{http_code}' -X "$method" --max-time 10
        -H "Authorization: $auth" -H "Connection: close")
    if [ -n "$body" ]; then
        args+=(-H "Content-Type: application/json" --data "$body")
    fi
    curl "${args[@]}" "$gateway$path"
}

expect_status() {
    # expect_status CODE METHOD PATH [JSON]
    local want="$1"; shift
    local got
    got="$(sim "$@")"
    if [ "$got" != "$want" ]; then
        echo "backup_roundtrip: $1 $2 answered $got, expected $want: $(head -c 300 "$work/body")" >&2
        return 1
    fi
}

users=("Backup Ada" "Backup Grace" "Backup Linus")

write_data() {
    local u
    for u in "${users[@]}"; do
        expect_status 204 POST "/register?latest=1" \
            "$(jq -cn --arg u "$u" '{username: $u, email: ($u | gsub(" "; ".") + "@example.org"), pwd: "secret1"}')"
    done
    local ada grace
    ada="$(urlenc "Backup Ada")"; grace="$(urlenc "Backup Grace")"
    expect_status 204 POST "/msgs/$ada?latest=2" '{"content": "first message from Ada"}'
    sleep 1 # distinct pub_date seconds keep the order unambiguous
    expect_status 204 POST "/msgs/$ada?latest=3" '{"content": "second <b>message</b> & more, \"quoted\""}'
    expect_status 204 POST "/msgs/$grace?latest=4" '{"content": "Grace was here"}'
    expect_status 204 POST "/fllws/$ada?latest=5" '{"follow": "Backup Grace"}'
    expect_status 204 POST "/fllws/$ada?latest=6" '{"follow": "Backup Linus"}'
    expect_status 204 POST "/fllws/$grace?latest=7" '{"follow": "Backup Ada"}'
    expect_status 204 POST "/fllws/$ada?latest=4242" '{"unfollow": "Backup Linus"}'
}

# Everything the API shows about the data, as one normalised JSON document.
snapshot() {
    local out="$1" u enc
    {
        echo '{'
        expect_status 200 GET "/latest" >/dev/null
        printf '"latest": %s,\n' "$(jq -cS . "$work/body")"
        expect_status 200 GET "/msgs?no=100"
        printf '"public": %s,\n' "$(jq -cS . "$work/body")"
        for u in "${users[@]}"; do
            enc="$(urlenc "$u")"
            expect_status 200 GET "/msgs/$enc?no=100"
            printf '"msgs %s": %s,\n' "$u" "$(jq -cS . "$work/body")"
            expect_status 200 GET "/fllws/$enc?no=100"
            printf '"fllws %s": %s,\n' "$u" "$(jq -cS '.follows |= sort' "$work/body")"
        done
        echo '"end": true}'
    } >"$out.raw"
    jq -S . "$out.raw" >"$out"
}

same_snapshot() {
    if diff -u "$work/before.json" "$work/after.json"; then return 0; fi
    return 1
}

has_expected_data() {
    jq -e '
        .latest.latest == 4242
        and (.public | length) == 3
        and (."msgs Backup Ada" | map(.content)) == ["second <b>message</b> & more, \"quoted\"", "first message from Ada"]
        and (."fllws Backup Ada".follows) == ["Backup Grace"]
        and (."fllws Backup Grace".follows) == ["Backup Ada"]
        and (."fllws Backup Linus".follows) == []
    ' "$work/before.json" >/dev/null
}

backup_metric_written() {
    local file="$work/textfile/minitwit_backup.prom" ts
    ts="$(awk '$1 == "minitwit_backup_last_success_timestamp_seconds" { print $2 }' "$file" 2>/dev/null)"
    [ -n "$ts" ] && [ "$ts" -gt 0 ] && grep -q '^minitwit_backup_last_run_success 1$' "$file"
}

databases_gone() {
    local n
    n="$(psql -X -Atq -d postgres -c "SELECT count(*) FROM pg_database WHERE datname IN ('$db_users', '$db_messages', '$db_follows')")"
    [ "$n" = 0 ]
}

export BACKUP_TARGET="file://$work/store"
export BACKUP_DATABASES="${databases[*]}"

echo "== backup round trip (binaries: $bin_dir, PostgreSQL: $PGHOST:$PGPORT)"
for db in "${databases[@]}"; do
    psql -X -q -d postgres -c "CREATE DATABASE \"$db\"" >/dev/null
done

start_services
write_data
snapshot "$work/before.json"
check "the API shows the data written (users, messages, follows, latest)" has_expected_data

check "backup.sh --once dumps the three databases" \
    env BACKUP_TEXTFILE_DIR="$work/textfile" "$repo/deploy/backup/backup.sh" --once
check "backup.sh records minitwit_backup_last_success_timestamp_seconds" backup_metric_written
check "restore.sh --list shows one dump per database" \
    test "$("$repo/deploy/backup/restore.sh" --list | grep -c '\.dump$')" -eq 3

# Changes after the backup: the restore must take them away again.
expect_status 204 POST "/msgs/$(urlenc "Backup Linus")?latest=9999" '{"content": "written after the backup"}'
expect_status 204 POST "/register" '{"username": "Backup Late", "email": "late@example.org", "pwd": "secret1"}'

stop_services
for db in "${databases[@]}"; do
    psql -X -q -d postgres -c "DROP DATABASE \"$db\" WITH (FORCE)" >/dev/null
done
check "the three databases are dropped" databases_gone

check "restore.sh --yes re-creates the three databases" "$repo/deploy/backup/restore.sh" --yes

start_services
snapshot "$work/after.json"
check "after the restore the API shows exactly the data of the backup" same_snapshot
check "a user registered after the backup is gone" \
    expect_status 404 GET "/msgs/$(urlenc "Backup Late")"

echo "backup_roundtrip: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
