# shellcheck shell=bash
# Sourced by the tests that need an S3 peer: moto's server (PyPI, pinned below) in a
# virtualenv of its own, serving HTTPS with a certificate the caller made
# (tests/lib/certs.sh), so backup.sh's production path (rclone over TLS, a CA bundle
# from S3_CA_FILE) runs unchanged against it.
#
#   moto_start VENV HOST PORT PKI NAME LOG   starts it (installing it first if needed)
#                                            with PKI/NAME.pem and PKI/NAME-key.pem (made
#                                            by test_cert), sets MOTO_PID, waits until
#                                            it answers to a client trusting PKI/ca.pem
#   moto_stop                                stops it
#
# moto keeps buckets in memory: a restart empties them.

MOTO_VERSION="${MOTO_VERSION:-5.1.22}"

moto_install() {
    local venv="$1"
    if "$venv/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
        return 0
    fi
    echo "installing moto[server]==$MOTO_VERSION into $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION"
}

moto_start() {
    local venv="$1" host="$2" port="$3" pki="$4" name="$5" log="$6" deadline
    moto_install "$venv"
    "$venv/bin/moto_server" -H "$host" -p "$port" -c "$pki/$name.pem" -k "$pki/$name-key.pem" >"$log" 2>&1 &
    MOTO_PID=$!
    deadline=$((SECONDS + 30))
    # Any HTTP answer will do; the test CA must accept the certificate.
    until curl -sS -o /dev/null --max-time 2 --cacert "$pki/ca.pem" "https://$host:$port/" 2>/dev/null; do
        if ! kill -0 "$MOTO_PID" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
            echo "moto_server did not answer on https://$host:$port/; its log:" >&2
            tail -n 20 "$log" >&2
            return 1
        fi
        sleep 0.2
    done
}

moto_stop() {
    [ -n "${MOTO_PID:-}" ] || return 0
    kill -TERM "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
    MOTO_PID=""
}
