#!/usr/bin/env bash
# `make fuzz`: runs each fuzz target of fuzz/ (one per parser of outside input) for
# FUZZ_SECONDS seconds (default 30), with its corpus under fuzz/corpus/<target>.
# Prints per target the runs, runs per second and the result; exits non-zero when a
# target crashed, printing how to reproduce it. Needs nightly and cargo-fuzz.
#
#   FUZZ_SECONDS=60 make fuzz
#   FUZZ_TARGETS="domain scenario" make fuzz     # some targets only
#   FUZZ_SANITIZER=address make fuzz             # default none: the code forbids unsafe
set -euo pipefail

cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-30}"
sanitizer="${FUZZ_SANITIZER:-none}"
# Faster builds of the large dependency tree, at a small cost in runs per second.
build=(-s "$sanitizer" --codegen-units 16)

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  echo "make fuzz needs a nightly Rust toolchain (libFuzzer's instrumentation):" >&2
  echo "  rustup toolchain install nightly" >&2
  exit 2
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "make fuzz needs cargo-fuzz:" >&2
  echo "  cargo install cargo-fuzz --locked" >&2
  exit 2
fi

# The targets are the [[bin]]s of fuzz/Cargo.toml (crates/gateway/tests/fuzz_targets.rs
# checks that each has a source file and a seed corpus).
mapfile -t all < <(cd fuzz && cargo +nightly fuzz list)
read -r -a targets <<<"${FUZZ_TARGETS:-${all[*]}}"
for t in "${targets[@]}"; do
  if ! printf '%s\n' "${all[@]}" | grep -qx "$t"; then
    echo "no fuzz target $t (there are: ${all[*]})" >&2
    exit 2
  fi
done

echo "building the fuzz targets (nightly, sanitizer $sanitizer)"
(cd fuzz && cargo +nightly fuzz build "${build[@]}")

logs=fuzz/target/logs
mkdir -p "$logs"
failed=()
printf '%-16s %12s %10s  %s\n' target runs runs/s result
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t"
  log="$logs/$t.log"
  status=0
  (cd fuzz && cargo +nightly fuzz run "${build[@]}" "$t" "corpus/$t" -- \
    -max_total_time="$seconds" -print_final_stats=1) >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  runs="${runs:-0}"
  result=ok
  if [ "$status" -ne 0 ]; then
    result="CRASH (exit $status)"
    failed+=("$t")
  fi
  printf '%-16s %12s %10s  %s\n' "$t" "$runs" "$((runs / seconds))" "$result"
  if [ "$status" -ne 0 ]; then
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    grep -m 5 -E "panicked at|ERROR: libFuzzer|SUMMARY" "$log" | sed 's/^/    /' || true
    echo "    log: $log"
    if [ -n "$artifact" ]; then
      echo "    reproduce: (cd fuzz && cargo +nightly fuzz run ${build[*]} $t ${artifact#fuzz/})"
      echo "    minimise:  (cd fuzz && cargo +nightly fuzz tmin ${build[*]} $t ${artifact#fuzz/})"
    fi
  fi
done

if [ "${#failed[@]}" -ne 0 ]; then
  echo "crashed: ${failed[*]}; make each a regression test in its crate's own tests" >&2
  exit 1
fi
