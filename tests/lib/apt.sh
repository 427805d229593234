# shellcheck shell=bash
# Sourced by the tests and the scripts (scripts/postgres.sh, scripts/test.sh, ...): the
# one way to install Debian packages. need_pkg CHECK PACKAGE [CHECK PACKAGE ...]
# installs each PACKAGE whose CHECK is missing (one apt-get run for all of them, each
# package once): CHECK is a command, or a path (with a /) that must exist (a module,
# not only a program); apt_install PACKAGE... installs them whatever is there. The
# scripts run as root in CI; elsewhere sudo is used.
need_pkg() {
    local absent=()
    while [ $# -ge 2 ]; do
        _pkg_present "$1" || [[ " ${absent[*]} " == *" $2 "* ]] || absent+=("$2")
        shift 2
    done
    [ "${#absent[@]}" -eq 0 ] && return 0
    apt_install "${absent[@]}"
}

_pkg_present() { case "$1" in */*) [ -e "$1" ] ;; *) command -v "$1" >/dev/null 2>&1 ;; esac; }

# apt_install PACKAGE...: installs the packages (what need_pkg does once it knows),
# quietly; the package lists are updated once per shell.
apt_install() {
    echo "installing $* with apt-get" >&2
    if [ "${apt_lists_updated:-0}" != 1 ]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
        apt_lists_updated=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# as_root COMMAND...: runs it as root: directly in CI (root), else through sudo.
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
