#!/usr/bin/env bash
# What building MiniTwit needs beyond Rust and a C compiler, installed with apt-get when
# missing: libpq is built in with TLS (pq-sys `bundled`), against the system's OpenSSL,
# which openssl-sys finds through pkg-config. `make build`, `make lint` and `make test`
# run it first, so a fresh Debian machine with only Rust builds.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=tests/lib/apt.sh
. tests/lib/apt.sh
if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists openssl; then
    apt_install pkg-config libssl-dev
fi
