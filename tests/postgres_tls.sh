#!/usr/bin/env bash
# PostgreSQL over TLS as the stack runs it (issue 24): a throwaway cluster with TLS on
# (a certificate deploy/scripts/internal-tls.sh made for `postgres`, here also for
# localhost) and the stack's own client authentication (deploy/postgres/pg_hba.conf:
# from the network only over TLS). Then user-service, the binary of this build, with
# the settings of docker-stack.yml (PGSSLMODE=verify-full, PGSSLROOTCERT the internal
# CA): it connects over TLS (its backends in pg_stat_ssl) and serves; the same binary
# asking for plain text, or trusting another CA, is refused and not ready; and psql in
# plain text is refused before any password is sent.
# Needs BIN_DIR (scripts/test.sh: debug binaries). Installs Debian's PostgreSQL when
# none is installed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
: "${BIN_DIR:?set BIN_DIR to the directory of the built binaries}"

# shellcheck source=scripts/postgres.sh
. scripts/postgres.sh
# shellcheck source=tests/lib/check.sh
. tests/lib/check.sh
# shellcheck source=tests/lib/ports.sh
. tests/lib/ports.sh
# shellcheck source=tests/lib/ready.sh
. tests/lib/ready.sh
minitwit_pg_binaries
bin=$minitwit_pg_bin

dir=$(mktemp -d /tmp/minitwit-pgtls.XXXXXX)
chmod 755 "$dir"
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT

# The certificates, as make-secrets.sh makes them (and one more CA, for a wrong trust).
INTERNAL_TLS_EXTRA_SAN=DNS:localhost deploy/scripts/internal-tls.sh init --dir "$dir/pki" >/dev/null
deploy/scripts/internal-tls.sh init --dir "$dir/other" >/dev/null
mkdir -p "$dir/server"
sed -n '/-BEGIN .*PRIVATE KEY-/,/-END .*PRIVATE KEY-/p' "$dir/pki/postgres.pem" >"$dir/server/server.key"
sed -n '/-BEGIN CERTIFICATE-/,/-END CERTIFICATE-/p' "$dir/pki/postgres.pem" >"$dir/server/server.crt"
chown -R postgres "$dir/server"
chmod 600 "$dir/server"/*
cp "$dir/pki/ca.pem" "$dir/ca.pem"
cp "$dir/other/ca.pem" "$dir/other-ca.pem"
chmod 644 "$dir"/*.pem

# The cluster: password logins, TLS, the stack's hba file.
mkdir -p "$dir/data" && chown postgres "$dir" "$dir/data"
echo "postgres-password" >"$dir/pw" && chown postgres "$dir/pw"
runuser -u postgres -- "$bin/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pw" -A scram-sha-256 >/dev/null
# Below the ephemeral ports (32768 and up), where an outgoing connection can hold a port
# nothing listens on; and the next port when another test took this one meanwhile.
port=25432
for attempt in 1 2 3 4 5; do
    while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
    runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "-p $port -k $dir \
        -c listen_addresses=127.0.0.1 -c ssl=on -c ssl_cert_file=$dir/server/server.crt \
        -c ssl_key_file=$dir/server/server.key -c hba_file=$repo/deploy/postgres/pg_hba.conf" start >/dev/null && break
    [ "$attempt" -lt 5 ] || { cat "$dir/log" >&2; exit 1; }
    port=$((port + 1))
done
# The service's role and database, over the socket (local: trust in the hba file).
runuser -u postgres -- psql -h "$dir" -p "$port" -U postgres -qAt -v ON_ERROR_STOP=1 \
    -c "CREATE ROLE minitwit_users LOGIN PASSWORD 'users-password'" -c "CREATE DATABASE users OWNER minitwit_users" >/dev/null

url="postgres://minitwit_users:users-password@localhost:$port/users"
# start_service NAME SSLMODE ROOTCERT: user-service on a free port (in $svc_port, its
# pid in $svc_pid), its log in $dir/NAME.log; returns once it answers /health (it
# serves at once; the database is connected in the background, /ready says when)
start_service() {
    local p
    p=$(free_ports 1)
    env -i PATH="$PATH" USER_SERVICE_HTTP__PORT="$p" USER_SERVICE_DATABASE__URL="$url" \
        USER_SERVICE_LOG__FORMAT=json PGSSLMODE="$2" PGSSLROOTCERT="$3" \
        "$BIN_DIR/user-service" >"$dir/$1.log" 2>&1 &
    svc_pid=$!
    pids+=("$svc_pid")
    svc_port=$p
    wait_ready --pid "$svc_pid" "http://127.0.0.1:$p/health" 30
}
not_ready_for() { # not_ready_for PORT SECONDS: /ready stays 503 all that time
    local until=$((SECONDS + $2))
    while [ "$SECONDS" -lt "$until" ]; do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/ready")" = 503 ] || return 1
        sleep 0.5
    done
}
ssl_backends() { # ssl_backends t|f: connections of minitwit_users with pg_stat_ssl.ssl = that
    runuser -u postgres -- psql -h "$dir" -p "$port" -U postgres -qAt -c "SELECT count(*) FROM pg_stat_ssl
        JOIN pg_stat_activity USING (pid) WHERE usename = 'minitwit_users' AND ssl = '$1'"
}
passed=0
failed=0

start_service verify-full verify-full "$dir/ca.pem"
good=$svc_port
check "verify-full against the internal CA: ready" wait_ready --pid "$svc_pid" "http://127.0.0.1:$good/ready" 30
check "... and its connections to PostgreSQL are TLS" test "$(ssl_backends t)" -ge 1
check "... none in plain text" test "$(ssl_backends f)" = 0
res=$(curl -s -X POST -H 'content-type: application/json' \
    -d '{"username": "tls-user", "email": "tls@example.org", "password": "a long passphrase"}' \
    "http://127.0.0.1:$good/users" -o /dev/null -w '%{http_code}')
check "... and it serves (a registration: $res)" test "$res" = 201

start_service plain disable ""
plain=$svc_port
check "plain text (sslmode=disable): not ready" not_ready_for "$plain" 4
check "... refused by the hba file before any password" grep -q 'no encryption' "$dir/plain.log"
start_service other-ca verify-full "$dir/other-ca.pem"
other=$svc_port
check "trusting another CA: not ready" not_ready_for "$other" 4
check "... the server's certificate refused" grep -q 'certificate verify failed' "$dir/other-ca.log"
out=$(PGPASSWORD=postgres-password PGSSLMODE=disable psql -h 127.0.0.1 -p "$port" -U postgres -c 'SELECT 1' 2>&1 || true)
check "psql in plain text, even on loopback: refused" grep -q 'no encryption' <<<"$out"
out=$(PGPASSWORD=postgres-password PGSSLMODE=verify-full PGSSLROOTCERT="$dir/ca.pem" \
    psql -h localhost -p "$port" -U postgres -Atc 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()' 2>&1 || true)
check "psql over TLS, verify-full: served ($out)" test "$out" = t

echo "postgres_tls: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
