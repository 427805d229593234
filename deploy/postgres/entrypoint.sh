#!/bin/sh
# PostgreSQL in the swarm: the image's own entrypoint (initdb on an empty data
# directory, then the server), and, on every start once the server answers, the
# creation of the services' roles and databases from their URL secrets
# (init-databases.sh, which changes nothing when they exist).
#
# Not from /docker-entrypoint-initdb.d: the image runs those files only while the
# data directory is empty, so one failed first run (a secret missing or
# mistyped) would leave a cluster without the databases for good. Here a failure
# stops the task, the swarm starts it again, and the next start tries again.
set -eu

# TLS with the internal CA's certificate for the name `postgres` (a Docker secret, the
# key and certificate in one file: deploy/scripts/internal-tls.sh). PostgreSQL reads
# its key only from a file of its own user, mode 0600: split into a private folder.
# The client authentication (hba_file, a config) refuses plain text from the network.
if [ -n "${POSTGRES_TLS_FILE:-}" ]; then
    tls=/var/lib/postgresql/tls
    mkdir -p "$tls"
    chmod 0700 "$tls"
    sed -n '/-BEGIN .*PRIVATE KEY-/,/-END .*PRIVATE KEY-/p' "$POSTGRES_TLS_FILE" >"$tls/server.key"
    sed -n '/-BEGIN CERTIFICATE-/,/-END CERTIFICATE-/p' "$POSTGRES_TLS_FILE" >"$tls/server.crt"
    chmod 0600 "$tls/server.key" "$tls/server.crt"
    if ! [ -s "$tls/server.key" ] || ! [ -s "$tls/server.crt" ]; then
        echo "POSTGRES_TLS_FILE=$POSTGRES_TLS_FILE holds no key and certificate" >&2
        exit 1
    fi
    chown -R postgres:postgres "$tls"
    set -- "$@" -c ssl=on -c "ssl_cert_file=$tls/server.crt" -c "ssl_key_file=$tls/server.key"
    # this script's own connections over TCP below (the hba file refuses plain text)
    export PGSSLMODE=require
fi

docker-entrypoint.sh "$@" &
pid=$!
# The stop signal (SIGINT: fast shutdown, the image's STOPSIGNAL) goes to the server.
trap 'kill -INT "$pid" 2>/dev/null || true' INT TERM

# Over TCP: the image's initdb phase runs a temporary server on the socket only.
if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
    PGPASSWORD="$(cat "$POSTGRES_PASSWORD_FILE")"
else
    PGPASSWORD="${POSTGRES_PASSWORD:-}"
fi
export PGPASSWORD PGHOST=127.0.0.1
until pg_isready -q -U "${POSTGRES_USER:-postgres}"; do
    kill -0 "$pid" 2>/dev/null || { wait "$pid"; exit $?; }
    sleep 1
done
if ! /usr/local/bin/minitwit-init-databases.sh; then
    echo "init-databases failed: stopping, so the swarm retries" >&2
    kill -INT "$pid"
    wait "$pid" || true
    exit 1
fi
unset PGPASSWORD

# `wait` returns early when a trapped signal arrives: wait until the server is gone.
status=0
while kill -0 "$pid" 2>/dev/null; do
    wait "$pid" || status=$?
done
exit "$status"
