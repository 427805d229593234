# shellcheck shell=bash
# Sourced by the end-to-end scripts that count their checks.
#
# check DESCRIPTION COMMAND...: runs COMMAND, counts a pass or a failure in $passed or
# $failed (set them to 0 first) and says which; never exits, so one run reports every
# check. wait_for SECONDS COMMAND...: until COMMAND succeeds, at most SECONDS.
check() {
    local what="$1"; shift
    if "$@"; then
        passed=$((passed + 1))
        echo "ok   $what"
    else
        failed=$((failed + 1))
        echo "FAIL $what" >&2
    fi
}
wait_for() {
    local deadline=$((SECONDS + $1)); shift
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.5
    done
}
