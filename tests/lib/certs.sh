# shellcheck shell=bash
# Sourced by the tests that need TLS peers (the swarm and cluster tests, the S3 peer of
# the backup test).
#
# test_ca DIR: a test CA in DIR (ca.pem, what clients trust, and ca-key.pem), made
# once. test_cert DIR NAME SAN EXTENDED_KEY_USAGE: a certificate NAME.pem and key
# NAME-key.pem signed by it, e.g. test_cert DIR localhost "DNS:localhost" serverAuth.
# A certificate of its own for each server: TLS libraries such as rustls refuse
# a CA certificate as a server's.
test_ca() {
    [ -s "$1/ca.pem" ] && return 0
    mkdir -p "$1"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
        -subj "/CN=MiniTwit test CA" -keyout "$1/ca-key.pem" -out "$1/ca.pem" 2>/dev/null
}
test_cert() {
    local dir="$1" name="$2" san="$3" eku="$4"
    [ -s "$dir/$name.pem" ] && return 0
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$name" \
        -keyout "$dir/$name-key.pem" -out "$dir/$name.csr" 2>/dev/null
    printf '%s\n' "subjectAltName=$san" "basicConstraints=CA:FALSE" "extendedKeyUsage=$eku" >"$dir/$name.ext"
    openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" \
        -CAcreateserial -days 30 -extfile "$dir/$name.ext" -out "$dir/$name.pem" 2>/dev/null
    rm -f "$dir/$name.csr" "$dir/$name.ext"
}
