#!/usr/bin/env bash
# Tests of the deploy scripts (deploy/scripts/*.sh, deploy/provision/ssh-allow-sync.sh)
# without a swarm: a fake `docker` on PATH replays recorded `docker service
# inspect` states (tests/deploy/fake-docker.sh, tests/deploy/lib.sh), a local HTTP
# server stands in for the site (smoke.sh), fake ufw and curl for the host; and
# `make test CRATE=` (scripts/test.sh) against a fake cargo.
# Needs bash, jq, curl and python3. A suite of `make test` (tests/suites.txt).
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in jq curl python3; do
  command -v "$tool" >/dev/null || { echo "tests/deploy_scripts.sh needs $tool" >&2; exit 1; }
done

# shellcheck source=tests/deploy/lib.sh
. tests/deploy/lib.sh
for t in tests/deploy/test_*.sh; do
  # shellcheck source=/dev/null
  . "$t"
done

if [ $# -gt 0 ]; then CASES=("$@"); fi
run_cases
