#!/usr/bin/env bash
# `make deny` (and part of `make lint`): every dependency of Cargo.lock against
# deny.toml with cargo-deny: licences, bans (wildcards; duplicate versions are
# listed as warnings) and sources always; the RustSec advisories where their
# database can be fetched from GitHub, and said to be skipped where it cannot.
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
"$deny" check --hide-inclusion-graph licenses bans sources

if timeout 10 git ls-remote -q https://github.com/rustsec/advisory-db HEAD >/dev/null 2>&1; then
  "$deny" check advisories
else
  echo "cargo deny: advisories skipped: the RustSec database (github.com/rustsec/advisory-db) cannot be reached from here"
fi
