#!/usr/bin/env bash
# The backup suite: tests/backup/test_roundtrip.py (pytest; its docstring says what it
# proves). Installs what is missing, then runs it with `pytest -v`: Debian's rclone,
# prometheus and prometheus-node-exporter (tests/lib/apt.sh), and from PyPI moto's server
# (the S3 peer, pinned in tests/lib/moto.sh) and pytest (PYTEST_VERSION) into one venv.
#
# Environment: BIN_DIR (target/debug) holds the binaries; MINITWIT_TEST_DATABASE_URL
# (postgres://postgres@127.0.0.1:5432/postgres) is an admin connection; MOTO_VENV
# (target/moto-venv) the venv. Arguments go to pytest, e.g. `-k restore` (any check:
# the steps it needs run first).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

bin_dir="${BIN_DIR:-target/debug}"
case "$bin_dir" in /*) ;; *) bin_dir="$PWD/$bin_dir" ;; esac
for s in user-service message-service follow-service gateway; do
    [ -x "$bin_dir/$s" ] || { echo "backup test: $bin_dir/$s is missing (cargo build --bins)" >&2; exit 1; }
done
# shellcheck source=tests/lib/apt.sh
. tests/lib/apt.sh
need_pkg rclone rclone /usr/bin/prometheus prometheus /usr/bin/promtool prometheus \
    /usr/bin/prometheus-node-exporter prometheus-node-exporter
for tool in python3 psql pg_dump pg_restore openssl; do
    command -v "$tool" >/dev/null || { echo "backup test: $tool is required" >&2; exit 1; }
done

venv="${MOTO_VENV:-$PWD/target/moto-venv}"
# shellcheck source=tests/lib/moto.sh
. tests/lib/moto.sh
moto_install "$venv" # (re-creates the venv when moto's version differs)
PYTEST_VERSION="${PYTEST_VERSION:-9.0.2}"
if ! "$venv/bin/python" -c "import pytest, sys; sys.exit(pytest.__version__ != '$PYTEST_VERSION')" 2>/dev/null; then
    echo "installing pytest==$PYTEST_VERSION into $venv" >&2
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "pytest==$PYTEST_VERSION"
fi

export BIN_DIR="$bin_dir" MOTO_VENV="$venv"
# no .pytest_cache in the repository
exec "$venv/bin/python" -m pytest -v --tb=short -p no:cacheprovider tests/backup/test_roundtrip.py "$@"
