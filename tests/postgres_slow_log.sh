#!/usr/bin/env bash
# PostgreSQL's slow-statement log writes no statement parameters (issue 12, finding
# 12): they are emails and password hashes, and the log is shipped to the log store.
#
# Starts a throwaway cluster with exactly the `-c` settings of the postgres service in
# docker-stack.yml, runs a statement slower than log_min_duration_statement and one
# that fails, each with a parameter over the extended protocol (pgbench -M extended,
# as the services send them), and checks that the log has the statements but not the
# parameter's value. Installs Debian's PostgreSQL when none is installed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

mapfile -t settings < <(sed -n '/^  postgres:$/,/^    secrets:$/p' docker-stack.yml |
    grep -A1 -- '^ *- -c$' | grep -v -e '^ *- -c$' -e '^--$' | sed 's/^ *- //')
printf '%s\n' "${settings[@]}" | grep -q '^log_min_duration_statement=' ||
    { echo "postgres_slow_log: no log_min_duration_statement in docker-stack.yml's postgres command" >&2; exit 1; }

# shellcheck source=scripts/postgres.sh
. scripts/postgres.sh
minitwit_pg_binaries
bin=$minitwit_pg_bin

dir=$(mktemp -d /tmp/minitwit-pglog.XXXXXX)
chown postgres "$dir"
cleanup() {
    runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT
port=56432
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
options="-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=20 -c shared_buffers=32MB"
for s in "${settings[@]}"; do
    case "$s" in max_connections=* | shared_buffers=* | effective_cache_size=*) continue ;; esac # sizes: not this test's
    case "$s" in hba_file=*) continue ;; esac # the stack's path (tests/postgres_tls.sh runs it)
    options="$options -c '$s'" # pg_ctl hands -o to a shell
done
runuser -u postgres -- "$bin/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "$options" start >/dev/null ||
    { cat "$dir/log" >&2; exit 1; }

secret="someone.secret@example.org"
threshold_ms=$(printf '%s\n' "${settings[@]}" | sed -n 's/^log_min_duration_statement=//p')
sleep_s=$(awk -v ms="$threshold_ms" 'BEGIN { printf "%.3f", ms / 1000 + 0.1 }')
echo "SELECT pg_sleep($sleep_s), :email::text AS slow_statement;" >"$dir/slow.sql"
echo "SELECT 1 / 0, :email::text AS failing_statement;" >"$dir/fail.sql"
chmod a+r "$dir"/*.sql
for script in slow fail; do
    "$bin/pgbench" -n -h 127.0.0.1 -p "$port" -U postgres -M extended -t 1 -D "email=$secret" \
        -f "$dir/$script.sql" postgres >/dev/null 2>&1 || true
done
runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null

failed=0
grep -q 'duration: .*slow_statement' "$dir/log" ||
    { echo "FAILED: the slow statement is not in the log" >&2; failed=1; }
grep -q 'failing_statement' "$dir/log" ||
    { echo "FAILED: the failing statement is not in the log" >&2; failed=1; }
if grep -q "$secret" "$dir/log"; then
    echo "FAILED: a statement parameter is in the log:" >&2
    grep -n "$secret" "$dir/log" >&2
    failed=1
fi
if [ "$failed" != 0 ]; then
    cat "$dir/log" >&2
    exit 1
fi
echo "postgres_slow_log: slow and failing statements are logged without their parameters"
