#!/usr/bin/env bash
# Part of `make test` (scripts/test.sh runs every executable tests/*.sh): the fault
# test, tests/chaos/run.sh (`make chaos` runs it alone). No acknowledged write may be
# lost or stored twice while replicas and PostgreSQL are killed under load.
set -euo pipefail
exec "$(dirname "$0")/chaos/run.sh" "$@"
