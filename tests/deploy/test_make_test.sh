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
