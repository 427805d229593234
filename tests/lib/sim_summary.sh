# shellcheck shell=bash
# Reading the JSON summary `minitwit-sim load --json` prints (sourced, not run): the
# figures the benchmark and the scaling measure judge a run by. Each takes the file.
p50_of() { jq -r '.total.latency.p50_ms' "$1"; }
p99_of() { jq -r '.total.latency.p99_ms' "$1"; }
# every failed request, the registrations before the load included
errors_of() { jq -r '.errors + .setup.errors' "$1"; }
# the failed registrations only (a user the load needs and does not have)
setup_errors_of() { jq -r '.setup.errors' "$1"; }
