#!/usr/bin/env bash
# The offline advisory check fails on an advisory that affects the build: make lint's
# scripts/deny.sh, pointed (ADVISORY_DB) at a copy of ../shared/advisory-db with one
# more advisory, made up for a crate and version Cargo.lock holds, must exit non-zero
# naming it; the same copy without it passes (so the failure is that advisory's).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
snapshot=../shared/advisory-db
[ -f "$snapshot/SNAPSHOT.txt" ] || { echo "advisories: no $snapshot beside the project" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# a crate of the build and its locked version: strum (the api crate's refusal lists)
version=$(awk '/^name = "strum"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
[ -n "$version" ] || { echo "advisories: strum is not in Cargo.lock" >&2; exit 1; }
cp -R "$snapshot" "$work/db"
sed -i '1s/as of commit [0-9a-f]*/as of commit 0000000000000000000000000000000000000001/' "$work/db/SNAPSHOT.txt"
passed=0
failed=0
# shellcheck source=tests/lib/check.sh
. tests/lib/check.sh

check "the copy without a new advisory passes" env ADVISORY_DB="$work/db" DENY_ONLY=advisories scripts/deny.sh

mkdir -p "$work/db/crates/strum"
cat >"$work/db/crates/strum/RUSTSEC-2099-0001.md" <<ADVISORY
\`\`\`toml
[advisory]
id = "RUSTSEC-2099-0001"
package = "strum"
date = "2026-08-20"
url = "https://example.invalid/minitwit-test"
categories = ["memory-corruption"]

[versions]
patched = ["> $version"]
\`\`\`

# A made-up advisory for the test of the advisory check

strum $version is not really affected: tests/advisories.sh writes this into a copy.
ADVISORY
sed -i '1s/as of commit [0-9a-f]*/as of commit 0000000000000000000000000000000000000002/' "$work/db/SNAPSHOT.txt"
refused() {
    ! env ADVISORY_DB="$work/db" DENY_ONLY=advisories scripts/deny.sh >"$work/deny.log" 2>&1 &&
        grep -q "RUSTSEC-2099-0001" "$work/deny.log"
}
check "an advisory for strum $version fails the check, naming it" refused
rm -rf target/advisory-db-other
echo "advisories: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
