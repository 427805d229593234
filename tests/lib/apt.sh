# shellcheck shell=bash
# Sourced by the tests: need_pkg COMMAND PACKAGE [COMMAND PACKAGE ...] installs each
# Debian PACKAGE whose COMMAND is missing (one apt-get run for all of them);
# apt_install PACKAGE... installs them whatever is there. The scripts run as root in
# CI; elsewhere sudo is used when present.
need_pkg() {
    local absent=()
    while [ $# -ge 2 ]; do
        command -v "$1" >/dev/null 2>&1 || absent+=("$2")
        shift 2
    done
    [ "${#absent[@]}" -eq 0 ] && return 0
    apt_install "${absent[@]}"
}

# apt_install PACKAGE...: installs the packages (what need_pkg does once it knows).
apt_install() {
    echo "installing $* with apt-get" >&2
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
