# shellcheck shell=bash
# Sourced by the end-to-end tests (and scripts/bench.sh): the one way to wait until a
# process answers.
#
# wait_ready [--pid PID]... URL SECONDS [CURL_OPTION...]: returns once URL answers 2xx
# (a `/ready`, or a `/health`, Prometheus's `/-/ready`, ...), trying every 0.1 s, each
# try at most 2 s; CURL_OPTION... go to curl too (e.g. --cacert CA --cert CERT for a
# service that wants a client certificate). Returns 1, saying so on stderr with URL
# and curl's last error, when SECONDS pass first, or at once when a process given
# with --pid (the one that should answer) has exited: its log says why.
wait_ready() {
    local watch=() url seconds deadline pid last
    while [ "${1:-}" = --pid ]; do
        watch+=("$2")
        shift 2
    done
    url=$1 seconds=$2
    shift 2
    deadline=$((SECONDS + seconds))
    while :; do
        last=$(curl -fsS -o /dev/null --max-time 2 "$@" "$url" 2>&1) && return 0
        for pid in "${watch[@]}"; do
            if ! kill -0 "$pid" 2>/dev/null; then
                echo "wait_ready: the process $pid exited before $url answered" >&2
                return 1
            fi
        done
        # -gt: $SECONDS counts whole seconds; this waits at least $seconds
        if [ "$SECONDS" -gt "$deadline" ]; then
            echo "wait_ready: $url did not answer 2xx within $seconds s (${last:-no answer})" >&2
            return 1
        fi
        sleep 0.1
    done
}
