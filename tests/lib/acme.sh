# shellcheck shell=bash
# shellcheck disable=SC2034 # ACME_DNS_PID and ACME_CA_PID are for the caller
# Sourced by the tests that need an ACME CA (tests/certificates.sh, the cluster test):
# Debian's pebble (Let's Encrypt's ACME test server) and pebble-challtestsrv as the DNS
# its validations ask, every name answering one address.
#
# acme_dns ADDRESS MANAGEMENT_ADDRESS ANSWER LOG: the DNS on ADDRESS (ip:port), every
#   A query answered with ANSWER; sets ACME_DNS_PID.
# acme_ca DIR NAME LISTEN_IP PORT MANAGEMENT_PORT HTTP_PORT DNS_ADDRESS CERT KEY VALIDITY:
#   a pebble with a root of its own, serving https://LISTEN_IP:PORT/dir with CERT and
#   KEY, validating HTTP-01 on HTTP_PORT of the name's address, issuing certificates
#   valid VALIDITY seconds; its log DIR/pebble-NAME.log, its root DIR/root-NAME.pem (the
#   CA a client of the site must trust). CERT's CA must be trusted by curl (CURL_CA_BUNDLE
#   or the system's) for the wait. Sets ACME_CA_PID.

# shellcheck source=tests/lib/ready.sh
. "$(dirname "${BASH_SOURCE[0]}")/ready.sh"

acme_dns() {
    pebble-challtestsrv -defaultIPv4 "$3" -defaultIPv6 "" -dns01 "$1" -management "$2" \
        -http01 "" -https01 "" -tlsalpn01 "" >"$4" 2>&1 &
    ACME_DNS_PID=$!
}
acme_ca() {
    local dir="$1" name="$2" ip="$3" port="$4" mgmt="$5" http="$6" dns="$7" cert="$8" key="$9" validity="${10}"
    cat >"$dir/pebble-$name.json" <<JSON
{"pebble": {"listenAddress": "$ip:$port", "managementListenAddress": "127.0.0.1:$mgmt",
  "certificate": "$cert", "privateKey": "$key", "httpPort": $http, "tlsPort": 5001,
  "ocspResponderURL": "", "externalAccountBindingRequired": false,
  "certificateValidityPeriod": $validity}}
JSON
    # no random sleeps before validation, no refused nonces, every order validated anew
    PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0 \
        pebble -config "$dir/pebble-$name.json" -dnsserver "$dns" >"$dir/pebble-$name.log" 2>&1 &
    ACME_CA_PID=$!
    wait_ready --pid "$ACME_CA_PID" "https://$ip:$port/dir" 30 || return 1
    curl -fsS -k -o "$dir/root-$name.pem" "https://127.0.0.1:$mgmt/roots/0"
}
