#!/usr/bin/env bash
# Backup round trip on a real PostgreSQL, through the real binaries, into an S3 peer
# (moto's server over TLS with a test CA: the production path, rclone to
# s3://BUCKET/PREFIX, configured only by the settings an operator also has):
#
#   1. the bucket's expiry rule (terraform/spaces.tf) watches the prefix the stack
#      writes under (docker-stack.yml, terraform's outputs): checked statically, since
#      the test server does not run lifecycle rules;
#   2. create three fresh databases, start user-, message-, follow-service and the
#      gateway on free ports against them; through the simulator API register users,
#      post messages, follow, record a `latest` value (the "before" snapshot);
#   3. backup.sh --schedule (as the swarm service runs it) makes its start-up backup:
#      every dump lands under PREFIX/<today>/, the textfile for node-exporter says so,
#      and backup.sh's own pruning removed the day folders older than its retention
#      (seeded beforehand) but kept the newest BACKUP_MIN_KEEP_DAYS;
#   4. write more data (which the restore must undo), stop the services, DROP the
#      three databases; restore.sh --yes from the bucket: every table's row digest
#      equals the one taken at the backup, and the API shows the "before" snapshot;
#   5. the S3 peer stopped: backup.sh --once fails, records the failure and keeps the
#      last success, and the real Prometheus (alerts.yml, node-exporter's textfile
#      collector as in the stack) fires MinitwitBackupFailing;
#   6. the scheduled start-up run waits for a PostgreSQL that answers only later;
#   7. the file:// target (a mounted disk) still stores and lists a backup.
#
# Environment: BIN_DIR (target/debug) holds the binaries; MINITWIT_TEST_DATABASE_URL
# (postgres://postgres@127.0.0.1:5432/postgres) is an admin connection; MOTO_VENV
# (target/moto-venv) where moto is installed when missing.
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
# shellcheck source=tests/lib/apt.sh
. tests/lib/apt.sh
need_pkg rclone rclone /usr/bin/prometheus prometheus /usr/bin/promtool prometheus \
    /usr/bin/prometheus-node-exporter prometheus-node-exporter
for tool in curl jq python3 psql pg_dump pg_restore openssl; do
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
pids=()     # the MiniTwit services
aux_pids=() # the S3 peer, node-exporter, Prometheus
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
    moto_stop
    for pid in "${aux_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${aux_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
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

# shellcheck source=tests/lib/check.sh
. tests/lib/check.sh

# shellcheck source=tests/lib/ports.sh
. tests/lib/ports.sh
# shellcheck source=tests/lib/certs.sh
. tests/lib/certs.sh
# shellcheck source=tests/lib/moto.sh
. tests/lib/moto.sh
read -r port_user port_message port_follow port_gateway port_s3 port_node port_prom < <(free_ports 7)
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

databases_gone() {
    local n
    n="$(psql -X -Atq -d postgres -c "SELECT count(*) FROM pg_database WHERE datname IN ('$db_users', '$db_messages', '$db_follows')")"
    [ "$n" = 0 ]
}

# ---- 1. the expiry rule watches the prefix the stack writes under -------------------------
# terraform/variables.tf's default prefix, the lifecycle rule's prefix, the stack's
# BACKUP_TARGET default and the deploy settings terraform prints must name one folder.
tf_default() { # tf_default VARIABLE: its default in terraform/variables.tf
    awk -v v="variable \"$1\"" '$0 ~ "^" v { f = 1 } f && $1 == "default" { gsub(/"/, "", $3); print $3; exit }' \
        "$repo/terraform/variables.tf"
}
prefix="$(tf_default backup_prefix)"
rule_days_default="$(tf_default backup_retention_days)"
stack_retention="$(sed -n 's/^ *BACKUP_RETENTION_DAYS: "\([0-9]*\)"$/\1/p' "$repo/docker-stack.yml")"
prefix_consistent() {
    # shellcheck disable=SC2016 # terraform's ${var...} is the text looked for
    [ -n "$prefix" ] &&
        grep -q '^ *prefix *= "${var.backup_prefix}/"$' "$repo/terraform/spaces.tf" &&
        grep -q '^ *days = var.backup_retention_days$' "$repo/terraform/spaces.tf" &&
        grep -q "BACKUP_TARGET: s3://\${BACKUP_BUCKET:-minitwit-backups}/\${BACKUP_PREFIX:-$prefix}$" "$repo/docker-stack.yml" &&
        grep -q '^ *BACKUP_PREFIX=${var.backup_prefix}$' "$repo/terraform/outputs.tf"
}
check "the bucket's expiry rule watches the stack's backup prefix ('$prefix/')" prefix_consistent
check "the rule keeps dumps (${rule_days_default} days) at least as long as backup.sh (${stack_retention} days)" \
    test "${rule_days_default:-0}" -ge "${stack_retention:-999}"

# ---- the S3 peer, node-exporter and Prometheus -----------------------------------------------
pki="$work/pki"
test_ca "$pki"
test_cert "$pki" s3 "DNS:localhost,IP:127.0.0.1" serverAuth
moto_start "${MOTO_VENV:-$repo/target/moto-venv}" 127.0.0.1 "$port_s3" "$pki" s3 "$work/moto.log"
printf 'backup-key-id\n' >"$work/s3_access_key_id"
printf 'backup-secret-key\n' >"$work/s3_secret_access_key"
bucket=minitwit-backups
export BACKUP_TARGET="s3://$bucket/$prefix"
export S3_ENDPOINT="https://127.0.0.1:$port_s3" S3_REGION=us-east-1 S3_CA_FILE="$pki/ca.pem"
export S3_ACCESS_KEY_ID_FILE="$work/s3_access_key_id" S3_SECRET_ACCESS_KEY_FILE="$work/s3_secret_access_key"
export BACKUP_DATABASES="${databases[*]}"
# bucket CMD ARGS...: rclone on the bucket's root, with the remote backup-lib.sh defines
bucket() (
    # shellcheck source=deploy/backup/backup-lib.sh
    . "$repo/deploy/backup/backup-lib.sh"
    store_init
    rclone -q "$@"
)
# The bucket terraform would make (moto checks no signatures; backup.sh never creates one).
curl -fsS -o /dev/null --cacert "$S3_CA_FILE" -X PUT "$S3_ENDPOINT/$bucket"

mkdir -p "$work/textfile"
/usr/bin/prometheus-node-exporter --web.listen-address="127.0.0.1:$port_node" --no-collector.systemd \
    --collector.textfile.directory="$work/textfile" >"$work/node-exporter.log" 2>&1 &
aux_pids+=($!)
cat >"$work/prometheus.yml" <<EOF
global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}
rule_files: ['$repo/deploy/prometheus/alerts.yml']
scrape_configs:
  - job_name: node-exporter
    static_configs: [{targets: ['127.0.0.1:$port_node']}]
EOF
/usr/bin/prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prometheus-data" \
    --web.listen-address="127.0.0.1:$port_prom" >"$work/prometheus.log" 2>&1 &
aux_pids+=($!)

# alert_state NAME: firing, pending or inactive, as Prometheus has it now
alert_state() {
    curl -fsS --max-time 5 "http://127.0.0.1:$port_prom/api/v1/alerts" |
        jq -r --arg n "$1" '[.data.alerts[] | select(.labels.alertname == $n) | .state] | first // "inactive"'
}
# wait_alert NAME STATE SECONDS
wait_alert() {
    local deadline=$((SECONDS + $3))
    until [ "$(alert_state "$1" 2>/dev/null)" = "$2" ]; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 1
    done
}
metric() { # metric NAME: its value in the textfile
    awk -v n="$1" '$1 == n { print $2 }' "$work/textfile/minitwit_backup.prom" 2>/dev/null
}

# ---- 2. data through the API -------------------------------------------------------------------
echo "== backup round trip (binaries: $bin_dir, PostgreSQL: $PGHOST:$PGPORT, S3: $S3_ENDPOINT)"
for db in "${databases[@]}"; do
    psql -X -q -d postgres -c "CREATE DATABASE \"$db\"" >/dev/null
done

start_services
write_data
snapshot "$work/before.json"
check "the API shows the data written (users, messages, follows, latest)" has_expected_data

# digests DB: one line per table of DB, "table rows md5", in table order
digests() {
    local db="$1" table
    for table in $(psql -X -Atq -d "$db" -c "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"); do
        psql -X -Atq -d "$db" -c "SELECT '$table', count(*), md5(coalesce(string_agg(t::text, E'\n' ORDER BY t::text), '')) FROM \"$table\" t"
    done
}
all_digests() { for db in "${databases[@]}"; do echo "== $db"; digests "$db"; done; }

# ---- 3. the scheduled backup, pruning ---------------------------------------------------------
# Day folders from an earlier month: retention is 14 days and the newest 3 folders are
# always kept, so after today's backup today, yesterday's and the newest old one remain.
day_ago() { date -u -d "-$1 days" +%F; }
printf 'old dump\n' >"$work/old.dump"
for n in 1 20 21 22; do
    bucket copyto "$work/old.dump" "minitwits3:$bucket/$prefix/$(day_ago "$n")/${databases[0]}_$(date -u -d "-$n days" +%Y%m%dT000000Z).dump"
done
all_digests >"$work/digests.before"

t0=$SECONDS
env BACKUP_RETENTION_DAYS=14 BACKUP_MIN_KEEP_DAYS=3 BACKUP_TEXTFILE_DIR="$work/textfile" \
    "$repo/deploy/backup/backup.sh" --schedule >"$work/schedule.log" 2>&1 &
schedule_pid=$!
deadline=$((SECONDS + 120))
until [ "$(metric minitwit_backup_last_run_success)" = 1 ] || [ "$SECONDS" -ge "$deadline" ]; do sleep 0.5; done
kill -TERM "$schedule_pid" 2>/dev/null || true
wait "$schedule_pid" 2>/dev/null || true
backup_seconds=$((SECONDS - t0))
check "backup.sh --schedule ran its start-up backup (${backup_seconds} s)" \
    test "$(metric minitwit_backup_last_run_success)" = 1
last_success="$(metric minitwit_backup_last_success_timestamp_seconds)"
check "the textfile records the success time" test "${last_success:-0}" -gt 0
bucket lsf -R --files-only "minitwits3:$bucket" >"$work/objects"
today="$(date -u +%F)"
check "one dump and one .sha256 per database under $prefix/$today/" \
    test "$(grep -cE "^$prefix/$today/mt_backup_[a-z]+_[0-9_]+_[0-9]{8}T[0-9]{6}Z\.dump(\.sha256)?$" "$work/objects")" -eq 6
check "every object in the bucket lies under the rule's prefix '$prefix/'" \
    test "$(grep -vc "^$prefix/" "$work/objects")" -eq 0
check "pruning removed the folders older than 14 days beyond the newest 3" \
    test "$(bucket lsf --dirs-only "minitwits3:$bucket/$prefix" | tr -d / | tr '\n' ' ')" = "$(day_ago 20) $(day_ago 1) $today "
check "restore.sh --list shows the three dumps of today" \
    test "$("$repo/deploy/backup/restore.sh" --list | grep -c "^$today/.*\.dump$")" -eq 3
check "Prometheus has MinitwitBackupFailing inactive after the good run" \
    test "$(alert_state MinitwitBackupFailing)" = inactive

# ---- 4. restore from the bucket into empty databases ---------------------------------------
# Changes after the backup: the restore must take them away again.
expect_status 204 POST "/msgs/$(urlenc "Backup Linus")?latest=9999" '{"content": "written after the backup"}'
expect_status 204 POST "/register" '{"username": "Backup Late", "email": "late@example.org", "pwd": "secret1"}'

stop_services
for db in "${databases[@]}"; do
    psql -X -q -d postgres -c "DROP DATABASE \"$db\" WITH (FORCE)" >/dev/null
done
check "the three databases are dropped" databases_gone

# PostgreSQL back without its data (a volume lost): empty databases must not become the
# newest backup, or `restore.sh --date latest` would restore nothing.
for db in "${databases[@]}"; do
    psql -X -q -d postgres -c "CREATE DATABASE \"$db\"" >/dev/null
    psql -X -q -d "$db" -c "CREATE TABLE kept_empty (id int)" >/dev/null
done
empty_refused() {
    ! env BACKUP_TEXTFILE_DIR="$work/textfile-empty" "$repo/deploy/backup/backup.sh" --once >"$work/empty.log" 2>&1 &&
        grep -q 'has no rows but earlier backups of it exist' "$work/empty.log" &&
        [ "$("$repo/deploy/backup/restore.sh" --list | grep -c "^$today/.*\.dump$")" -eq 3 ]
}
check "empty databases are not backed up over the earlier dumps (the run fails, nothing stored)" empty_refused
for db in "${databases[@]}"; do
    psql -X -q -d postgres -c "DROP DATABASE \"$db\" WITH (FORCE)" >/dev/null
done

t0=$SECONDS
check "restore.sh --yes re-creates the three databases from the bucket" "$repo/deploy/backup/restore.sh" --yes
restore_seconds=$((SECONDS - t0))
all_digests >"$work/digests.after"
check "every table's row digest equals the one taken at the backup ($(grep -vc '^==' "$work/digests.before") tables, restore ${restore_seconds} s)" \
    diff -u "$work/digests.before" "$work/digests.after"

start_services
snapshot "$work/after.json"
check "after the restore the API shows exactly the data of the backup" same_snapshot
check "a user registered after the backup is gone" \
    expect_status 404 GET "/msgs/$(urlenc "Backup Late")"

# ---- 5. the storage gone: the run fails, says so, and the alert fires ------------------------
moto_stop
t0=$SECONDS
backup_fails() {
    ! env BACKUP_TEXTFILE_DIR="$work/textfile" "$repo/deploy/backup/backup.sh" --once >"$work/failed.log" 2>&1
}
check "backup.sh --once exits non-zero when the bucket cannot be reached" backup_fails
failed_seconds=$((SECONDS - t0))
check "the failed run took ${failed_seconds} s and uploaded nothing after the first failure" \
    test "$(grep -c 'the storage failed for an earlier database' "$work/failed.log")" -eq 2
check "the textfile records the failed run and keeps the last success" \
    test "$(metric minitwit_backup_last_run_success) $(metric minitwit_backup_last_success_timestamp_seconds)" = "0 $last_success"
check "Prometheus fires MinitwitBackupFailing" wait_alert MinitwitBackupFailing firing 60
ca_refused() {
    ! env S3_CA_FILE="$work/no-such-ca.pem" "$repo/deploy/backup/backup.sh" --once >"$work/ca.log" 2>&1 &&
        grep -q "S3_CA_FILE points at $work/no-such-ca.pem, which is not readable" "$work/ca.log"
}
check "an unreadable S3_CA_FILE stops the run, naming the setting" ca_refused

# ---- 6. the start-up run waits for PostgreSQL -------------------------------------------------
# Deployed together, the backup service often starts before PostgreSQL answers (the stack's
# start-up backup then failed at once and retried 30 minutes later). Here PostgreSQL
# "appears" 3 s after the start: a TCP forwarder from a free port to the real server.
read -r port_late < <(free_ports 1)
env BACKUP_TARGET="file://$work/store-late" BACKUP_TEXTFILE_DIR="$work/textfile-late" PGPORT="$port_late" \
    BACKUP_DB_WAIT_SECONDS=60 "$repo/deploy/backup/backup.sh" --schedule >"$work/late.log" 2>&1 &
late_pid=$!
sleep 3
python3 - "$port_late" "$PGHOST" "$PGPORT" >/dev/null 2>&1 <<'PY' &
import asyncio, sys
port, host, target = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
async def pipe(r, w):
    try:
        while data := await r.read(65536):
            w.write(data)
            await w.drain()
    finally:
        w.close()
async def serve(r, w):
    tr, tw = await asyncio.open_connection(host, target)
    await asyncio.gather(pipe(r, tw), pipe(tr, w))
async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", port)
    await server.serve_forever()
asyncio.run(main())
PY
aux_pids+=($!)
deadline=$((SECONDS + 60))
until grep -q '^minitwit_backup_last_run_success 1$' "$work/textfile-late/minitwit_backup.prom" 2>/dev/null \
    || [ "$SECONDS" -ge "$deadline" ]; do sleep 0.5; done
kill -TERM "$late_pid" 2>/dev/null || true
wait "$late_pid" 2>/dev/null || true
check "the start-up run waited for PostgreSQL to answer, then backed up" \
    grep -q '^minitwit_backup_last_run_success 1$' "$work/textfile-late/minitwit_backup.prom"

# ---- 7. the file:// target ----------------------------------------------------------------------
check "backup.sh --once stores into a file:// target" \
    env BACKUP_TARGET="file://$work/store" "$repo/deploy/backup/backup.sh" --once
check "restore.sh --list shows its three dumps" \
    test "$(BACKUP_TARGET="file://$work/store" "$repo/deploy/backup/restore.sh" --list | grep -c '\.dump$')" -eq 3

echo "backup_roundtrip: backup ${backup_seconds} s, restore ${restore_seconds} s, failed run ${failed_seconds} s"
echo "backup_roundtrip: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
