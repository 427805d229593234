#!/usr/bin/env bash
# Sourced by the test scripts: makes sure a PostgreSQL server is there for the tests and
# exports MINITWIT_TEST_DATABASE_URL (an admin URL; each test creates its own database).
#
# 1. MINITWIT_TEST_DATABASE_URL already set (CI service container): use it.
# 2. A server answers on 127.0.0.1:5432 (trust auth): use it.
# 3. Else start a throwaway cluster from the installed PostgreSQL binaries in a temporary
#    directory, installing PostgreSQL with apt-get first if there are none.
#    `minitwit_pg_stop` (called from the caller's EXIT trap) stops and removes it.
#
# MINITWIT_PG_PRIVATE=1 skips 1 and 2: always a throwaway cluster of one's own, for a
# test that stops and restarts its server (tests/chaos/run.sh) and so must never touch
# a server others use. `minitwit_pg_ctl` then runs its pg_ctl (`minitwit_pg_ctl -m
# immediate stop`), and `minitwit_pg_restart` starts it again as it was started.

# shellcheck source=tests/lib/apt.sh
. "$(dirname "${BASH_SOURCE[0]}")/../tests/lib/apt.sh"

minitwit_pg_dir=""
minitwit_pg_options=""

minitwit_pg_stop() {
  if [ -n "$minitwit_pg_dir" ] && [ -d "$minitwit_pg_dir" ]; then
    runuser -u postgres -- "$minitwit_pg_bin/pg_ctl" -D "$minitwit_pg_dir/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$minitwit_pg_dir"
    minitwit_pg_dir=""
  fi
}

minitwit_pg_port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pg_ctl of the throwaway cluster, as its owner.
minitwit_pg_ctl() {
  runuser -u postgres -- "$minitwit_pg_bin/pg_ctl" -D "$minitwit_pg_dir/data" "$@"
}

# Starts the throwaway cluster again (after `minitwit_pg_ctl -m immediate stop`).
minitwit_pg_restart() {
  minitwit_pg_ctl -l "$minitwit_pg_dir/log" -w -o "$minitwit_pg_options" start >/dev/null
}

# Sets minitwit_pg_bin to the newest installed PostgreSQL's bin directory (initdb,
# pg_ctl, pgbench), installing Debian's postgresql first if there is none, and makes
# sure the postgres user exists. Also for tests that start a cluster of their own.
minitwit_pg_binaries() {
  minitwit_pg_bin=$(find /usr/lib/postgresql -maxdepth 3 -name initdb -path '*/bin/*' 2>/dev/null | sort -V | tail -n 1 | xargs -r dirname)
  if [ -z "$minitwit_pg_bin" ]; then
    echo "postgres: none installed; installing Debian's postgresql"
    apt_install postgresql
    minitwit_pg_bin=$(find /usr/lib/postgresql -maxdepth 3 -name initdb -path '*/bin/*' | sort -V | tail -n 1 | xargs dirname)
  fi
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
}

minitwit_pg_start() {
  if [ "${MINITWIT_PG_PRIVATE:-}" = 1 ]; then
    unset MINITWIT_TEST_DATABASE_URL
  elif [ -n "${MINITWIT_TEST_DATABASE_URL:-}" ]; then
    echo "postgres: using MINITWIT_TEST_DATABASE_URL"
    return 0
  fi
  if [ "${MINITWIT_PG_PRIVATE:-}" != 1 ] && minitwit_pg_port_open 5432; then
    export MINITWIT_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres"
    echo "postgres: using the server on 127.0.0.1:5432"
    return 0
  fi
  minitwit_pg_binaries
  minitwit_pg_dir=$(mktemp -d /tmp/minitwit-pg.XXXXXX)
  chown postgres "$minitwit_pg_dir"
  local port=55432 attempt
  runuser -u postgres -- "$minitwit_pg_bin/initdb" -D "$minitwit_pg_dir/data" -A trust -U postgres >/dev/null
  # Another test may take the free port found here before this server binds it: then
  # the next one.
  for attempt in 1 2 3 4 5; do
    while minitwit_pg_port_open "$port"; do port=$((port + 1)); done
    minitwit_pg_options="-p $port -k $minitwit_pg_dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off"
    minitwit_pg_restart && break
    [ "$attempt" -lt 5 ] || { tail -n 5 "$minitwit_pg_dir/log" >&2; return 1; }
    port=$((port + 1))
  done
  export MINITWIT_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
  echo "postgres: started a throwaway cluster on 127.0.0.1:$port"
}
