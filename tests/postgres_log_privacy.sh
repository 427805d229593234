#!/usr/bin/env bash
# PostgreSQL's statement log never holds what users send (issue 12, finding 12): the
# stack's PostgreSQL logs slow statements, and that log is shipped to the log store, so
# it must not carry bound parameters (emails, password hashes, message texts).
#
# A throwaway cluster starts with exactly the `-c` settings of docker-stack.yml's
# postgres service, plus `log_min_duration_statement=0` so every statement counts as
# slow. user-service registers a user against it; the log must show the INSERT (the
# logging works) and none of the values bound to it.
set -euo pipefail
cd "$(dirname "$0")/.."

bin_dir=${BIN_DIR:-target/debug}
[ -x "$bin_dir/user-service" ] || cargo build --bin user-service
pg_bin=$(find /usr/lib/postgresql -maxdepth 3 -name initdb -path '*/bin/*' 2>/dev/null | sort -V | tail -n 1 | xargs -r dirname)
if [ -z "$pg_bin" ]; then
  echo "postgres_log_privacy: installing Debian's postgresql"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  pg_bin=$(find /usr/lib/postgresql -maxdepth 3 -name initdb -path '*/bin/*' | sort -V | tail -n 1 | xargs dirname)
fi
id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres

work=$(mktemp -d /tmp/minitwit-pglog.XXXXXX)
chown postgres "$work"
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# The `- -c` / `- name=value` pairs of the postgres service's command in the stack.
mapfile -t settings < <(awk '
  /^  postgres:/ { in_pg = 1; next }
  in_pg && /^  [a-z]/ { in_pg = 0 }
  in_pg && /^    command:/ { in_cmd = 1; next }
  in_cmd && /^ *#/ { next }
  in_cmd && !/^      - / { in_cmd = 0 }
  in_cmd { value = $0; sub(/^      - /, "", value) }
  in_cmd && prev == "-c" { print value }
  in_cmd { prev = value }
' docker-stack.yml)
[ "${#settings[@]}" -gt 0 ] || { echo "FAIL: no -c settings found for postgres in docker-stack.yml" >&2; exit 1; }
echo "postgres_log_privacy: the stack's settings: ${settings[*]}"
options="-k $work -c listen_addresses=127.0.0.1 -c fsync=off"
for s in "${settings[@]}"; do
  case $s in
    shared_buffers=* | effective_cache_size=*) ;; # sizes for a server, not this test
    *) options+=" -c '$s'" ;;
  esac
done
options+=" -c log_min_duration_statement=0"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
runuser -u postgres -- "$pg_bin/initdb" -D "$work/data" -A trust -U postgres >/dev/null
runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/data" -l "$work/pg.log" -w -o "-p $port $options" start >/dev/null

http=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
USER_SERVICE_HTTP__PORT=$http USER_SERVICE_DATABASE__URL="postgres://postgres@127.0.0.1:$port/postgres" \
  USER_SERVICE_ARGON2__MEMORY_KIB=64 USER_SERVICE_ARGON2__ITERATIONS=1 \
  "$bin_dir/user-service" >"$work/service.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$http/ready" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "http://127.0.0.1:$http/ready" >/dev/null || { cat "$work/service.log" >&2; exit 1; }

secret_name="logprivacy$RANDOM"
secret_email="never.in.the.log.$RANDOM@example.org"
status=$(curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' \
  -d "{\"username\":\"$secret_name\",\"email\":\"$secret_email\",\"password\":\"a long secret\"}" \
  "http://127.0.0.1:$http/users")
[ "$status" = 201 ] || { echo "FAIL: registration answered $status" >&2; exit 1; }
# The log as the service left it (the query below, sent by psql as plain text, names
# the user itself), then the hash user-service stored: it must not be in the log either.
cp "$work/pg.log" "$work/checked.log"
hash=$(runuser -u postgres -- "$pg_bin/psql" -h "$work" -p "$port" -U postgres -d postgres -Atc \
  "SELECT pw_hash FROM users WHERE username = '$secret_name'")
[ -n "$hash" ] || { echo "FAIL: the user was not stored" >&2; exit 1; }

failed=0
if ! grep -q 'duration: .*INSERT INTO "users"' "$work/checked.log"; then
  echo "FAIL: the INSERT is not in the statement log, so this test proves nothing" >&2
  failed=1
fi
for value in "$secret_name" "$secret_email" "$hash" "parameters: \$1"; do
  if grep -qF -- "$value" "$work/checked.log"; then
    echo "FAIL: the statement log holds ${value:0:40}:" >&2
    grep -F -- "$value" "$work/checked.log" | head -n 3 >&2
    failed=1
  fi
done
[ "$failed" = 0 ] || exit 1
echo "postgres_log_privacy: passed (the INSERT is logged, none of its values are)"
