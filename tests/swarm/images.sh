#!/usr/bin/env bash
# Builds, offline, every image the tests deploy (tests/swarm/README.md):
#
#   minitwit-test/base-runtime:<key>     Debian + ca-certificates curl libssl3 tini: the
#                                        RUNTIME_BASE of the project's Dockerfile
#   minitwit-test/base-thirdparty:<key>  Debian + PostgreSQL, nginx, Prometheus, ...:
#                                        the base of the stand-ins and of the backup image
#   minitwit-test/<app>:<TAG>            the project's Dockerfile, targets gateway,
#                                        user-service, message-service, follow-service,
#                                        from host-built release binaries
#   minitwit-test/backup:<TAG>           deploy/backup/Dockerfile.backup
#   minitwit-test/<third-party>:standin  postgres, nginx, prometheus, alertmanager,
#                                        node-exporter, blackbox-exporter, certbot, mailsink
#
# No registry is needed: the two bases are Debian root file systems made with
# mmdebstrap from Debian's packages and `docker import`ed. They are kept between runs,
# named after a hash of their package lists; everything else is rebuilt each run.
#
# Usage: images.sh [--bases-only] [--version V]   (env: TAG, default "a"; BIN_DIR, the
# release binaries, default target/release)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/swarm/lib.sh
. "$here/lib.sh"
root="$SWARM_ROOT"

TAG="${TAG:-a}"
VERSION="0.0.0-swarmtest.$TAG"
bases_only=false
while [ $# -gt 0 ]; do
    case "$1" in
        --bases-only) bases_only=true ;;
        --version) VERSION="$2"; shift ;;
        *) die "images.sh: unknown argument $1" ;;
    esac
    shift
done
BIN_DIR="${BIN_DIR:-$root/target/release}"

RUNTIME_PACKAGES="ca-certificates,curl,libssl3,tini"
THIRDPARTY_PACKAGES="ca-certificates,curl,wget,tini,openssl,util-linux,postgresql-15,postgresql-client-15,nginx-light,prometheus,prometheus-alertmanager,prometheus-node-exporter,prometheus-blackbox-exporter,rclone,certbot,python3-cryptography,python3,python3-aiosmtpd"

runtime_base="$(base_image runtime "$RUNTIME_PACKAGES")"
thirdparty_base="$(base_image thirdparty "$THIRDPARTY_PACKAGES")"
if $bases_only; then
    exit 0
fi

# The app images: the project's own Dockerfile with host-built binaries.
stage="$root/target/image-bin"
rm -rf "$stage"
mkdir -p "$stage"
for bin in gateway user-service message-service follow-service minitwit-sim; do
    [ -x "$BIN_DIR/$bin" ] || die "missing $BIN_DIR/$bin: run cargo build --release --bins"
    cp "$BIN_DIR/$bin" "$stage/"
done
commit="$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)"
for target in gateway user-service message-service follow-service; do
    log "building minitwit-test/$target:$TAG ($VERSION)"
    docker_build --quiet --target "$target" \
        --build-arg RUNTIME_BASE="$runtime_base" --build-arg BINARIES=prebuilt \
        --build-arg VERSION="$VERSION" --build-arg COMMIT="$commit" \
        -t "minitwit-test/$target:$TAG" "$root" >/dev/null
done
log "building minitwit-test/backup:$TAG"
docker_build --quiet -f "$root/deploy/backup/Dockerfile.backup" \
    --build-arg BASE="$thirdparty_base" --build-arg VERSION="$VERSION" --build-arg COMMIT="$commit" \
    -t "minitwit-test/backup:$TAG" "$root/deploy/backup" >/dev/null

for standin in "$here"/standins/*/; do
    name="$(basename "$standin")"
    log "building minitwit-test/$name:standin"
    docker_build --quiet --build-arg BASE="$thirdparty_base" -t "minitwit-test/$name:standin" "$standin" >/dev/null
done
