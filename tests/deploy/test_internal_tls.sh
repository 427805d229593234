# shellcheck shell=bash
# shellcheck disable=SC2154 # $out and $rc: set by run (tests/deploy/lib.sh)
# deploy/scripts/internal-tls.sh: the internal CA and what it signs, its secrets (the
# fake docker), and the rotation of the CA step by step, each step's trust checked
# with openssl. (The services and the gateway using these certificates: the Rust test
# internal_tls_certificates in crates/user-service/tests/api/.)

internal_tls() { run "$SCRIPTS/internal-tls.sh" "$@" --dir "$FAKE/tls" --env-file "$FAKE/minitwit.env"; }
# verifies CERT FILE against the CA bundle FILE, for PURPOSE (sslserver, sslclient)
verifies() { openssl verify -purpose "$3" -CAfile "$2" "$1" >/dev/null 2>&1; }
ext_of() { openssl x509 -in "$FAKE/tls/$1.pem" -noout -ext "$2" 2>/dev/null; }

internal_tls_init_makes_a_ca_and_a_certificate_per_party() {
  : >"$FAKE/minitwit.env"
  internal_tls init
  expect_status "$rc" 0
  expect_in "$out" "created  CA MiniTwit internal CA"
  [ "$(stat -c %a "$FAKE/tls")" = 700 ] || fail "the directory is $(stat -c %a "$FAKE/tls")"
  [ "$(stat -c %a "$FAKE/tls/ca.key")" = 600 ] || fail "the CA key is $(stat -c %a "$FAKE/tls/ca.key")"
  local party
  for party in user-service message-service follow-service postgres; do
    verifies "$FAKE/tls/$party.pem" "$FAKE/tls/ca.pem" sslserver || fail "$party is no server certificate"
    ! verifies "$FAKE/tls/$party.pem" "$FAKE/tls/ca.pem" sslclient || fail "$party may act as a client"
    expect_in "$(ext_of "$party" subjectAltName)" "DNS:$party, DNS:tasks.$party"
    [ "$(stat -c %a "$FAKE/tls/$party.pem")" = 600 ] || fail "$party.pem holds a key, mode $(stat -c %a "$FAKE/tls/$party.pem")"
    grep -q "BEGIN PRIVATE KEY" "$FAKE/tls/$party.pem" || fail "$party.pem has no key"
  done
  for party in gateway prometheus; do
    verifies "$FAKE/tls/$party.pem" "$FAKE/tls/ca.pem" sslclient || fail "$party is no client certificate"
    ! verifies "$FAKE/tls/$party.pem" "$FAKE/tls/ca.pem" sslserver || fail "$party may act as a service"
  done
  # again: everything kept
  local before
  before=$(cat "$FAKE/tls/ca.pem" "$FAKE/tls/gateway.pem")
  internal_tls init
  expect_status "$rc" 0
  expect_in "$out" "exists   gateway (kept)"
  [ "$before" = "$(cat "$FAKE/tls/ca.pem" "$FAKE/tls/gateway.pem")" ] || fail "init replaced what existed"
  internal_tls status
  expect_status "$rc" 0
  expect_in "$out" "user-service"
}
register internal_tls_init_makes_a_ca_and_a_certificate_per_party

internal_tls_secrets_follow_the_version_and_keep_what_exists() {
  echo "INTERNAL_TLS_SECRET_VERSION=4" >"$FAKE/minitwit.env"
  internal_tls secrets
  expect_status "$rc" 2
  expect_in "$out" "no CA in $FAKE/tls: run 'internal-tls.sh init' first"
  internal_tls init
  internal_tls secrets --dry-run
  expect_in "$out" "would create minitwit_internal_ca_4"
  [ ! -s "$FAKE/state/secrets" ] || fail "a dry run created $(cat "$FAKE/state/secrets")"
  internal_tls secrets
  expect_status "$rc" 0
  expect_in "$out" "internal-tls: 7 created, 0 kept (version 4)"
  local s
  for s in internal_ca user_service_tls message_service_tls follow_service_tls postgres_tls gateway_tls prometheus_tls; do
    grep -qxF "minitwit_${s}_4" "$FAKE/state/secrets" || fail "minitwit_${s}_4 not created"
  done
  cmp -s "$FAKE/state/secret-values/minitwit_follow_service_tls_4" "$FAKE/tls/follow-service.pem" ||
    fail "follow_service_tls is not the key and certificate"
  internal_tls secrets
  expect_in "$out" "internal-tls: 0 created, 7 kept (version 4)"
  echo "INTERNAL_TLS_SECRET_VERSION='4 5'" >"$FAKE/minitwit.env"
  internal_tls secrets
  expect_status "$rc" 2
  expect_in "$out" "INTERNAL_TLS_SECRET_VERSION must be a version such as 2, not '4 5'"
}
register internal_tls_secrets_follow_the_version_and_keep_what_exists

# The runbook's rotation: new-ca, secrets (both CAs trusted), issue, secrets, drop-old-ca,
# secrets. At every step each party's certificate is trusted by every bundle in use.
internal_tls_rotates_the_ca_with_both_trusted_in_between() {
  : >"$FAKE/minitwit.env"
  internal_tls init
  cp "$FAKE/tls/ca.pem" "$FAKE/old-ca.pem"
  cp "$FAKE/tls/gateway.pem" "$FAKE/old-gateway.pem"
  internal_tls drop-old-ca
  expect_status "$rc" 2
  expect_in "$out" "no old CA in $FAKE/tls: nothing to drop"

  internal_tls new-ca
  expect_status "$rc" 0
  expect_in "$out" "stays trusted until drop-old-ca"
  internal_tls new-ca
  expect_status "$rc" 2
  expect_in "$out" "a rotation is under way"
  echo "INTERNAL_TLS_SECRET_VERSION=2" >"$FAKE/minitwit.env"
  internal_tls secrets
  expect_status "$rc" 0
  local bundle2="$FAKE/state/secret-values/minitwit_internal_ca_2"
  [ "$(grep -c 'BEGIN CERTIFICATE' "$bundle2")" = 2 ] || fail "version 2 should trust two CAs"
  verifies "$FAKE/old-gateway.pem" "$bundle2" sslclient || fail "the old certificates are not trusted in version 2"
  internal_tls drop-old-ca
  expect_status "$rc" 2
  expect_in "$out" "not signed by the new CA yet: user-service message-service follow-service postgres gateway prometheus"

  internal_tls issue
  expect_status "$rc" 0
  ! verifies "$FAKE/tls/gateway.pem" "$FAKE/old-ca.pem" sslclient || fail "issue signed with the old CA"
  echo "INTERNAL_TLS_SECRET_VERSION=3" >"$FAKE/minitwit.env"
  internal_tls secrets
  local bundle3="$FAKE/state/secret-values/minitwit_internal_ca_3"
  # during the roll: old tasks (old certificates, bundle 2) and new ones (new, bundle 3)
  verifies "$FAKE/state/secret-values/minitwit_user_service_tls_3" "$bundle2" sslserver || fail "an old task refuses a new service"
  verifies "$FAKE/old-gateway.pem" "$bundle3" sslclient || fail "a new service refuses an old gateway"

  internal_tls drop-old-ca
  expect_status "$rc" 0
  echo "INTERNAL_TLS_SECRET_VERSION=4" >"$FAKE/minitwit.env"
  internal_tls secrets
  local bundle4="$FAKE/state/secret-values/minitwit_internal_ca_4"
  [ "$(grep -c 'BEGIN CERTIFICATE' "$bundle4")" = 1 ] || fail "version 4 should trust one CA"
  ! verifies "$FAKE/old-gateway.pem" "$bundle4" sslclient || fail "the old CA is still trusted after drop-old-ca"
  verifies "$FAKE/state/secret-values/minitwit_gateway_tls_4" "$bundle4" sslclient || fail "the new gateway is refused"
}
register internal_tls_rotates_the_ca_with_both_trusted_in_between

internal_tls_status_fails_for_a_certificate_about_to_expire() {
  : >"$FAKE/minitwit.env"
  internal_tls init
  INTERNAL_TLS_DAYS=10 internal_tls issue
  expect_status "$rc" 0
  internal_tls status
  expect_status "$rc" 1
  expect_count "$out" "EXPIRES WITHIN 30 DAYS" 6
  INTERNAL_TLS_DAYS=ten internal_tls issue
  expect_status "$rc" 2
  expect_in "$out" "INTERNAL_TLS_DAYS must be a whole number of days, not 'ten'"
  internal_tls bogus
  expect_status "$rc" 2
}
register internal_tls_status_fails_for_a_certificate_about_to_expire
