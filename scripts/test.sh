#!/usr/bin/env bash
# `make test`: every suite of tests/suites.txt (the one list), against real PostgreSQL
# and SQLite, a real browser and a real Docker engine. Finds or starts PostgreSQL
# (scripts/postgres.sh), runs each suite in the list's order, carries on after a failed
# one, and ends with a table of every suite: its result, its duration, or why it was
# skipped. Exit status 1 when any suite failed.
#
# `make test-quick` (scripts/test.sh --quick): only the suites of tier `quick` (the
# crates' tests and the fast end-to-end ones: a few minutes).
# `make test CRATE=NAME` (scripts/test.sh NAME): only that crate's Rust tests, with the
# same PostgreSQL set-up; nothing else is built or run. NAME is a directory of crates/
# or its package name (`kit` or `minitwit-kit`).
# TEST_SKIP="name ...": suites not to run here (said in the table), e.g. CI's test job
# leaves the browser to its own job. TEST_SUITES=FILE: another list (the runner's own
# test, tests/deploy/test_make_test.sh).
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

tier=full
if [ "${1:-}" = --quick ]; then
  tier=quick
  shift
fi
package=""
if [ $# -gt 1 ]; then
  echo "usage: scripts/test.sh [--quick | CRATE]  (make test CRATE=NAME: one crate at a time); crates:" >&2
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

# The list, and README's table of it: the same suites.
suites=()
while read -r name suite_tier needs command; do
  case "$name" in '' | '#'*) continue ;; esac
  suites+=("$name $suite_tier $needs $command")
  case "${TEST_SUITES:+other}:$command" in
    :tests/*) grep -q "^| .*| \`$command\` |" README.md || {
      echo "tests/suites.txt runs $command, which README.md's table of tests does not describe" >&2
      exit 2
    } ;;
  esac
done <"${TEST_SUITES:-tests/suites.txt}"
# shellcheck disable=SC2016 # the backticks are README's, not a command
[ -n "${TEST_SUITES:-}" ] || while read -r described; do
  grep -q " $described\$" tests/suites.txt || {
    echo "README.md's table of tests describes $described, which tests/suites.txt does not run" >&2
    exit 2
  }
done < <(sed -n 's/^| [^|]* | `\(tests\/[^`]*\.sh\)` |.*/\1/p' README.md)

# What building needs beyond Rust (libpq's TLS: the system's OpenSSL), as make build.
scripts/build-deps.sh
# The end-to-end scripts drive the system with these; a fresh Debian may lack them.
# shellcheck source=tests/lib/apt.sh
. tests/lib/apt.sh
need_pkg curl curl jq jq python3 python3 psql postgresql-client pg_dump postgresql-client \
  pg_restore postgresql-client
python3 -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv

# shellcheck source=scripts/postgres.sh
. scripts/postgres.sh
# which profiles this run built (binaries, below): this run's own, never another's
built=$(mktemp -d)
# (the release build in the background, when one was started, is stopped with the run)
trap 'stop_release_build; minitwit_pg_stop; rm -rf "$built"' EXIT
minitwit_pg_start

# The release binaries the suites use (minitwit-admin is not one of them).
release_build=(cargo build --release --workspace --exclude minitwit-admin --bins)
release_in_background=""

# When a suite of this run needs the release binaries, they are built in the background
# from the start, at the idle scheduling priority (only CPU time no suite wants: the
# suites before it wait much on PostgreSQL, browsers and containers), and the first
# suite that needs them waits for the build. In the foreground the release build was
# 6 to 12 minutes of CI's run on the 2-core machine, most of that time now spent
# beside the suites before.
start_release_build() {
  local idle=()
  chrt --idle 0 true 2>/dev/null && idle=(chrt --idle 0)
  echo "== building the release binaries in the background (${idle[*]:-nice} ${release_build[*]})"
  release_in_background=1
  (
    # a session of its own: stop_release_build ends the build with all its compilers
    setsid "${idle[@]}" nice -n 19 "${release_build[@]}" >"$built/release.log" 2>&1 </dev/null &
    echo $! >"$built/release.pid"
    status=0
    wait $! || status=$?
    echo "$status" >"$built/release.status"
  ) &
}
stop_release_build() {
  [ -f "$built/release.pid" ] && [ ! -f "$built/release.status" ] || return 0
  kill -- "-$(cat "$built/release.pid")" 2>/dev/null || true
}

# BIN_DIR for the suites that drive the built binaries, built once when first needed.
binaries() { # binaries debug|release
  local dir="$PWD/target/$1"
  [ -f "$built/$1" ] || {
    # (explicit returns: errexit does not hold inside the `|| status=$?` below)
    if [ "$1" = release ] && [ -n "$release_in_background" ]; then
      echo "== waiting for the release binaries, building in the background since the run began"
      while [ ! -f "$built/release.status" ]; do sleep 1; done
      cat "$built/release.log"
      [ "$(cat "$built/release.status")" = 0 ] || { echo "== no release binaries: the build above did not succeed"; return 1; }
    elif [ "$1" = release ]; then
      echo "== building the release binaries"
      "${release_build[@]}" || return 1
    else
      echo "== building the debug binaries"
      cargo build --bins || return 1
    fi
    touch "$built/$1"
  }
  BIN_DIR="$dir"
}

# why_failed OUTPUT: the line of a failed suite's output that says why: its last line
# with FAIL (a check's or a test's own line, e.g. "FAIL 7 rolling update ..."), else its
# last naming a failure or an error (not "0 failed"), else its last line; cut to 160
# characters. The table's note, since a long suite's reason is far above the end of a
# CI log (and what the end holds may be a count, or a clean-up's chatter).
why_failed() {
  local line
  line=$(grep 'FAIL' "$1" | tail -n 1)
  [ -n "$line" ] || line=$(grep -E '[Ff]ailed|[Ee]rror' "$1" | grep -v -E '(^| )0 (failed|errors?)' | tail -n 1)
  [ -n "$line" ] || line=$(grep -v '^[[:space:]]*$' "$1" | tail -n 1)
  printf '%s' "${line:0:160}"
}

# Whether a suite this run will run needs the release binaries: then they are built
# beside the suites before it.
for suite in "${suites[@]}"; do
  read -r name suite_tier needs _ <<<"$suite"
  if [[ ",$needs," == *,release,* ]] && { [ "$tier" = full ] || [ "$suite_tier" = quick ]; } \
    && [[ " ${TEST_SKIP:-} " != *" $name "* ]]; then
    start_release_build
    break
  fi
done

results=()
failed=0
add() { results+=("$(printf '%-18s %-8s %7s  %s' "$1" "$2" "$3" "${4:-}")"); }
for suite in "${suites[@]}"; do
  read -r name suite_tier needs command <<<"$suite"
  if [ "$tier" = quick ] && [ "$suite_tier" != quick ]; then
    add "$name" skipped - "not in the quick tier (make test runs it)"
    continue
  fi
  if [[ " ${TEST_SKIP:-} " == *" $name "* ]]; then
    add "$name" skipped - "TEST_SKIP"
    continue
  fi
  if [[ ",$needs," == *,docker,* ]] && ! docker info >/dev/null 2>&1; then
    if [ "${CI:-}" = true ]; then
      add "$name" FAILED - "no Docker engine answers (docker info); CI requires one"
      failed=1
    else
      add "$name" skipped - "no Docker engine answers here (CI requires one)"
    fi
    continue
  fi
  echo "== $name: $command"
  started=$SECONDS
  status=0
  # Its output is kept too, so that the table can say why it failed: through a process
  # substitution, not a pipe, so that a process the suite left running with its output
  # open cannot hold make test (the tee is waited for a few seconds at most).
  exec {kept}> >(tee "$built/output")
  tee_pid=$!
  (
    case ",$needs," in
      *,release,*) binaries release || exit 1 ;;
      *,debug,*) binaries debug || exit 1 ;;
    esac
    export BIN_DIR
    # shellcheck disable=SC2086 # the command's words
    exec $command </dev/null
  ) >&"$kept" 2>&1 || status=$?
  exec {kept}>&-
  for _ in $(seq 1 50); do
    kill -0 "$tee_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ "$status" -eq 0 ]; then
    add "$name" ok "$((SECONDS - started)) s"
  else
    add "$name" FAILED "$((SECONDS - started)) s" "exit status $status: $(why_failed "$built/output")"
    failed=1
  fi
done

echo
echo "== the suites of ${TEST_SUITES:-tests/suites.txt} (tier $tier)"
printf '%-18s %-8s %7s  %s\n' suite result time note
printf '%s\n' "${results[@]}"
if [ "$failed" -ne 0 ]; then
  echo "== some suites FAILED (above)"
  exit 1
fi
echo "== all suites passed"
