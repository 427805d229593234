#!/usr/bin/env bash
# `make deny` (and part of `make lint`): every dependency of Cargo.lock against
# deny.toml with cargo-deny: licences, bans (wildcards; duplicate versions are
# listed as warnings) and sources always; the RustSec advisories from their database
# on GitHub, or where GitHub does not answer from the snapshot in ../shared/advisory-db
# (offline), and said to be skipped only where neither can be read.
#
# cargo-deny is installed into target/tools on first use, as a debug build: 1 min
# 18 s on the 2-core test machine, where the release build took 12 min 43 s (its
# checks take seconds either way).
set -euo pipefail
cd "$(dirname "$0")/.."

version=0.20.2
deny=target/tools/bin/cargo-deny
if ! "$deny" --version 2>/dev/null | grep -qx "cargo-deny $version"; then
  echo "== installing cargo-deny $version into target/tools (a debug build)"
  cargo install --quiet --locked --debug --version "$version" --root target/tools cargo-deny
fi

# Duplicates are listed without their inclusion graphs (2,300 lines of the log);
# `target/tools/bin/cargo-deny check bans` shows who pulls each one in.
[ "${DENY_ONLY:-}" = advisories ] || "$deny" check --hide-inclusion-graph licenses bans sources

# ADVISORY_DB=DIR: another snapshot, checked offline even where GitHub answers (the
# check's own test, tests/advisories.sh); DENY_ONLY=advisories: that check alone.
snapshot=${ADVISORY_DB:-../shared/advisory-db}
if [ -z "${ADVISORY_DB:-}" ] && timeout 10 git ls-remote -q https://github.com/rustsec/advisory-db HEAD >/dev/null 2>&1; then
  "$deny" check advisories
elif [ -f "$snapshot/SNAPSHOT.txt" ]; then
  # No GitHub (the test machines): the snapshot beside the project (data only, its date
  # in SNAPSHOT.txt), made the git repository cargo-deny keeps its copy of the database
  # in (the directory it names after the database's URL, under a db-path of target/),
  # committed with the snapshot's date so that its age is what cargo-deny sees; then
  # checked with --offline. Made once per snapshot.
  rev=$(sed -n 's/.*as of commit \([0-9a-f]*\).*/\1/p' "$snapshot/SNAPSHOT.txt")
  date=$(sed -n 's/.*(\([0-9-]*\)).*/\1/p' "$snapshot/SNAPSHOT.txt" | head -n 1)
  work="$PWD/target/advisory-db${ADVISORY_DB:+-other}"
  # cargo-deny $version's directory for https://github.com/rustsec/advisory-db
  repo="$work/dbs/advisory-db-3157b0e258782691"
  if [ "$(cat "$work/snapshot" 2>/dev/null)" != "$rev" ]; then
    rm -rf "$repo"
    mkdir -p "$repo"
    cp -R "$snapshot"/. "$repo"/
    git -C "$repo" init -q
    git -C "$repo" add -A
    GIT_COMMITTER_DATE="${date}T00:00:00Z" GIT_AUTHOR_DATE="${date}T00:00:00Z" \
      git -C "$repo" -c user.name=minitwit -c user.email=deny@localhost commit -q -m "RustSec advisory-db $rev"
    echo "$rev" >"$work/snapshot"
  fi
  sed "/^\[advisories\]/a db-path = \"$work/dbs\"" deny.toml >"$work/deny.toml"
  echo "cargo deny: advisories from the offline snapshot: $(head -n 1 "$snapshot/SNAPSHOT.txt")"
  # --offline keeps cargo from the registry too, and cargo-deny reads every crate of
  # Cargo.lock, of every platform: fetched first (crates.io answers where GitHub does
  # not), or a clone whose builds never needed the Windows-only crates fails here.
  cargo fetch --locked >/dev/null 2>&1 || echo "cargo deny: cargo fetch failed; checking with what cargo has"
  "$deny" --offline --config "$work/deny.toml" check advisories
else
  echo "cargo deny: advisories skipped: neither github.com/rustsec/advisory-db nor $snapshot can be read from here"
fi
