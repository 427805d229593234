#!/usr/bin/env bash
# `make test`: every test of the project, against real PostgreSQL and SQLite and a real
# browser. Finds or starts PostgreSQL (scripts/postgres.sh), runs the Rust suites, then
# the end-to-end scripts that drive the built binaries.
#
# `make test CRATE=NAME` (scripts/test.sh NAME): only that crate's Rust tests, with the
# same PostgreSQL set-up; nothing else is built or run. NAME is a directory of crates/
# or its package name (`kit` or `minitwit-kit`).
set -euo pipefail
cd "$(dirname "$0")/.."

# Each crate as "directory package" (the first `name =` of crates/*/Cargo.toml).
crates() {
  local toml
  for toml in crates/*/Cargo.toml; do
    echo "$(basename "$(dirname "$toml")") $(sed -n 's/^name = "\(.*\)"$/\1/p' "$toml" | head -n 1)"
  done
}

# The crates for a person: `dir`, or `dir (package)` where the two differ.
crate_names() {
  crates | awk '{ print "  " $1 ($1 == $2 ? "" : " (" $2 ")") }'
}

package=""
if [ $# -gt 1 ]; then
  echo "usage: scripts/test.sh [CRATE]  (make test CRATE=NAME: one crate at a time); crates:" >&2
  crate_names >&2
  exit 2
elif [ $# -eq 1 ] && [ -n "$1" ]; then
  package=$(crates | awk -v name="$1" '$1 == name || $2 == name { print $2 }')
  [ -n "$package" ] || {
    echo "no crate named '$1'; one of (directory or package name):" >&2
    crate_names >&2
    exit 2
  }
fi

if [ -n "$package" ]; then
  # shellcheck source=scripts/postgres.sh
  . scripts/postgres.sh
  trap minitwit_pg_stop EXIT
  minitwit_pg_start
  # --all-features: the features the whole-workspace run unifies for it (kit's `db`
  # and `testing`), so the same tests run.
  echo "== Rust unit and black-box tests of $package (both databases)"
  cargo test -p "$package" --all-targets --all-features
  echo "== all tests of $package passed"
  exit 0
fi

# The end-to-end scripts drive the system with these; a fresh Debian may lack them.
need=()
command -v curl >/dev/null || need+=(curl)
command -v jq >/dev/null || need+=(jq)
command -v python3 >/dev/null || need+=(python3)
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
{ command -v psql && command -v pg_dump && command -v pg_restore; } >/dev/null || need+=(postgresql-client)
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi

# shellcheck source=scripts/postgres.sh
. scripts/postgres.sh
trap minitwit_pg_stop EXIT
minitwit_pg_start

echo "== Rust unit and black-box tests (both databases)"
cargo test --workspace --all-targets

echo "== Binaries for the end-to-end tests"
cargo build --bins
export BIN_DIR="$PWD/target/debug"

for t in tests/*.sh tests/browser/run.sh; do
  [ -x "$t" ] || continue
  echo "== $t"
  "$t"
done
# The stack on four test nodes pulling from a registry, on a live Docker engine
# (tests/cluster/run.sh). In CI a missing engine is a failure; on a developer's
# machine without one it is said and skipped.
if docker info >/dev/null 2>&1; then
  echo "== tests/cluster/run.sh (release binaries, images built offline, four test nodes and a registry)"
  cargo build --release --bins
  BIN_DIR="$PWD/target/release" tests/cluster/run.sh
elif [ "${CI:-}" = true ]; then
  echo "== FAIL: no Docker engine answers (docker info): the cluster test cannot run" >&2
  exit 1
else
  echo "== SKIPPED tests/cluster/run.sh: no Docker engine answers here (CI requires one)"
fi
echo "== all tests passed"
