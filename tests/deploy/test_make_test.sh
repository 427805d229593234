# shellcheck shell=bash
# shellcheck disable=SC2154 # $out and $rc: set by run (tests/deploy/lib.sh)
# `make test CRATE=NAME` (scripts/test.sh NAME), not a deploy script but tested the same
# way: a fake `cargo` on PATH logs what it is told, and MINITWIT_TEST_DATABASE_URL
# stands for a PostgreSQL server, so nothing is built, started or installed.

fake_cargo() {
  cat >"$FAKE/bin/cargo" <<'CARGO'
#!/usr/bin/env bash
printf '%s\n' "$*" >>"$(dirname "$0")/../cargo.log"
CARGO
  chmod +x "$FAKE/bin/cargo"
  : >"$FAKE/cargo.log"
  export MINITWIT_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:1/postgres"
}

make_test_runs_one_crate_by_directory_or_package_name() {
  fake_cargo
  run make -s -C "$REPO_ROOT" test CRATE=kit
  expect_status "$rc" 0
  expect_in "$out" "postgres: using MINITWIT_TEST_DATABASE_URL"
  run "$REPO_ROOT/scripts/test.sh" follow-service
  expect_status "$rc" 0
  run "$REPO_ROOT/scripts/test.sh" minitwit-sim
  expect_status "$rc" 0
  # only the crate's tests: no other cargo command, no end-to-end script
  [ "$(cat "$FAKE/cargo.log")" = "test -p minitwit-kit --all-targets --all-features
test -p follow-service --all-targets --all-features
test -p minitwit-sim --all-targets --all-features" ] || fail "cargo was told: $(cat "$FAKE/cargo.log")"
  expect_not_in "$out" "== tests/"
}
register make_test_runs_one_crate_by_directory_or_package_name

make_test_refuses_an_unknown_crate_with_the_list() {
  fake_cargo
  unset MINITWIT_TEST_DATABASE_URL # it must fail before looking for PostgreSQL
  run make -s -C "$REPO_ROOT" test CRATE=users
  expect_status "$rc" 2
  expect_in "$out" "no crate named 'users'"
  expect_in "$out" "  kit (minitwit-kit)"
  expect_in "$out" "  user-service"
  expect_not_in "$out" "postgres:"
  run "$REPO_ROOT/scripts/test.sh" gateway kit
  expect_status "$rc" 2
  expect_in "$out" "one crate at a time"
  [ ! -s "$FAKE/cargo.log" ] || fail "cargo was run: $(cat "$FAKE/cargo.log")"
}
register make_test_refuses_an_unknown_crate_with_the_list

# make test / make test-quick: every suite of the list in order, on after a failure, a
# table at the end; tiers, TEST_SKIP and a missing Docker engine (skipped here, a
# failure in CI) said in it. A list of its own (TEST_SUITES), a fake cargo and docker.
make_test_runs_every_suite_and_ends_with_a_table() {
  fake_cargo
  printf '#!/bin/sh\nexit 1\n' >"$FAKE/bin/docker" # no engine answers
  chmod +x "$FAKE/bin/docker"
  # shellcheck disable=SC2016 # expanded by the suite
  printf '#!/bin/sh\ntest "$BIN_DIR" = "%s/target/debug"\n' "$REPO_ROOT" >"$FAKE/bin-dir-is-debug"
  chmod +x "$FAKE/bin-dir-is-debug"
  # a failure's reason, then a count and a clean-up's chatter: the table names the reason
  printf '#!/bin/sh\necho "test result: ok. 3 passed; 0 failed"\necho "[x] FAIL: the disk is full" >&2\necho "1 passed, 1 failed"\necho removed\nexit 3\n' >"$FAKE/broken"
  chmod +x "$FAKE/broken"
  cat >"$FAKE/suites.txt" <<LIST
# name  tier   needs    command
first   quick  -        true
broken  quick  -        $FAKE/broken
second  quick  debug    $FAKE/bin-dir-is-debug
slow    full   -        true
swarm   full   docker   true
LIST
  export TEST_SUITES="$FAKE/suites.txt"
  run "$REPO_ROOT/scripts/test.sh" --quick
  expect_status "$rc" 1
  expect_in "$out" "$(printf '%-18s %-8s' first ok)"
  expect_in "$out" "$(printf '%-18s %-8s' broken FAILED)"
  expect_in "$out" "exit status 3: [x] FAIL: the disk is full"
  expect_in "$out" "$(printf '%-18s %-8s' second ok)" # after the failure, with BIN_DIR
  expect_in "$out" "not in the quick tier (make test runs it)"
  expect_in "$out" "== some suites FAILED"
  [ "$(cat "$FAKE/cargo.log")" = "build --bins" ] || fail "cargo was told: $(cat "$FAKE/cargo.log")"
  TEST_SKIP=broken CI='' run "$REPO_ROOT/scripts/test.sh"
  expect_status "$rc" 0
  expect_in "$out" "$(printf '%-18s %-8s %7s  %s' broken skipped - TEST_SKIP)"
  expect_in "$out" "$(printf '%-18s %-8s' slow ok)"
  expect_in "$out" "no Docker engine answers here (CI requires one)"
  expect_in "$out" "== all suites passed"
  TEST_SKIP=broken CI=true run "$REPO_ROOT/scripts/test.sh"
  expect_status "$rc" 1
  expect_in "$out" "$(printf '%-18s %-8s %7s  %s' swarm FAILED - "no Docker engine answers (docker info); CI requires one")"
  unset TEST_SUITES
}
register make_test_runs_every_suite_and_ends_with_a_table

# The release binaries are built in the background from the start of a run that has a
# suite needing them (at idle priority), and that suite waits for them; a failed build
# fails that suite with the compiler's error as its reason. The fake cargo takes a
# second over the release build, and fails it when FAKE_RELEASE_FAILS is set.
make_test_builds_the_release_binaries_beside_the_suites_before() {
  fake_cargo
  cat >>"$FAKE/bin/cargo" <<'CARGO'
if [[ " $* " == *" --release "* ]]; then
  sleep 1
  [ -z "${FAKE_RELEASE_FAILS:-}" ] || { echo "error: could not compile \`gateway\`" >&2; exit 101; }
  echo "Finished release"
fi
CARGO
  # shellcheck disable=SC2016 # expanded by the suite
  printf '#!/bin/sh\ntest "$BIN_DIR" = "%s/target/release"\n' "$REPO_ROOT" >"$FAKE/bin-dir-is-release"
  chmod +x "$FAKE/bin-dir-is-release"
  cat >"$FAKE/suites.txt" <<LIST
before  quick  -        sleep 2
bench   full   release  $FAKE/bin-dir-is-release
LIST
  export TEST_SUITES="$FAKE/suites.txt"
  run "$REPO_ROOT/scripts/test.sh"
  expect_status "$rc" 0
  expect_in "$out" "building the release binaries in the background"
  expect_in "$out" "$(printf '%-18s %-8s' bench ok)"
  expect_in "$out" "Finished release"
  [ "$(cat "$FAKE/cargo.log")" = "build --release --workspace --exclude minitwit-admin --bins" ] \
    || fail "cargo was told: $(cat "$FAKE/cargo.log")"
  # the quick tier has no suite that needs them: no release build
  : >"$FAKE/cargo.log"
  run "$REPO_ROOT/scripts/test.sh" --quick
  expect_status "$rc" 0
  [ ! -s "$FAKE/cargo.log" ] || fail "cargo was run: $(cat "$FAKE/cargo.log")"
  FAKE_RELEASE_FAILS=1 run "$REPO_ROOT/scripts/test.sh"
  expect_status "$rc" 1
  expect_in "$out" "$(printf '%-18s %-8s' before ok)"
  expect_in "$out" "exit status 1: error: could not compile \`gateway\`"
  unset TEST_SUITES
}
register make_test_builds_the_release_binaries_beside_the_suites_before

# A suite that leaves a process running with its output open (a server it failed to
# stop) must not hold make test until that process ends: the table comes first.
make_test_does_not_wait_for_what_a_suite_left_running() {
  fake_cargo
  printf '#!/bin/sh\n(sleep 8; echo late) &\necho $! >"%s/lingering.pid"\n' "$FAKE" >"$FAKE/lingering"
  chmod +x "$FAKE/lingering"
  printf 'lingering  quick  -  %s\n' "$FAKE/lingering" >"$FAKE/suites.txt"
  export TEST_SUITES="$FAKE/suites.txt"
  rc=0
  "$REPO_ROOT/scripts/test.sh" --quick >"$FAKE/lingering.out" 2>&1 || rc=$?
  kill "$(cat "$FAKE/lingering.pid")" 2>/dev/null || true
  unset TEST_SUITES
  expect_status "$rc" 0
  expect_in "$(cat "$FAKE/lingering.out")" "== all suites passed"
  expect_not_in "$(cat "$FAKE/lingering.out")" "late"
}
register make_test_does_not_wait_for_what_a_suite_left_running

make_test_refuses_a_list_the_readme_does_not_describe() {
  fake_cargo
  # checked before anything runs: a README without one suite's row
  local copy="$FAKE/repo"
  mkdir -p "$copy/scripts" "$copy/tests"
  cp "$REPO_ROOT/scripts/test.sh" "$REPO_ROOT/scripts/postgres.sh" "$copy/scripts/"
  cp "$REPO_ROOT/tests/suites.txt" "$copy/tests/"
  # shellcheck disable=SC2016 # README's backticks
  grep -v '`tests/certificates.sh`' "$REPO_ROOT/README.md" >"$copy/README.md"
  run "$copy/scripts/test.sh" --quick
  expect_status "$rc" 2
  expect_in "$out" "tests/suites.txt runs tests/certificates.sh, which README.md's table of tests does not describe"
  [ ! -s "$FAKE/cargo.log" ] || fail "cargo was run: $(cat "$FAKE/cargo.log")"
}
register make_test_refuses_a_list_the_readme_does_not_describe
