# shellcheck shell=bash
# shellcheck disable=SC2154 # $out and $rc: set by run (tests/deploy/lib.sh)
# deploy/scripts/make-secrets.sh against the fake docker: every secret the stack names,
# from the operator's values or generated, none replaced, nothing made from a bad file.

# values_file [NAME=VALUE ...]: a values file with good values, some replaced
values_file() {
  {
    echo "SIM_PASSWORD=super_safe!"
    echo "SPACES_KEY=DO00SPACESKEY"
    echo "SPACES_SECRET=spaces-secret-value"
    echo "SMTP_PASSWORD=relay-password"
    printf '%s\n' "$@"
  } >"$FAKE/secrets.env"
  chmod 600 "$FAKE/secrets.env"
}
make_secrets() {
  run "$SCRIPTS/make-secrets.sh" --values "$FAKE/secrets.env" --env-file "$FAKE/minitwit.env" \
    --tls-dir "$FAKE/tls" "$@"
}
secret_value() { cat "$FAKE/state/secret-values/$1"; }

make_secrets_creates_every_secret_the_stack_names() {
  values_file
  : >"$FAKE/minitwit.env"
  make_secrets
  expect_status "$rc" 0
  local want got
  want="$(awk '/^secrets:/ { s = 1; next } /^[^ ]/ { s = 0 } s && /^    name: / { print $2 }' \
    "$REPO_ROOT/docker-stack.yml" | sed 's/\${[A-Z0-9_]*:-1}$/1/' | sort)"
  got="$(sort "$FAKE/state/secrets")"
  [ "$want" = "$got" ] || fail "the stack names: $want; created: $got"
  expect_in "$out" "make-secrets: 11 created, 0 kept"
  expect_in "$out" "internal-tls: 7 created, 0 kept (version 1)"
  # the internal CA's certificate, and a party's key and certificate
  [ "$(secret_value minitwit_internal_ca_1)" = "$(cat "$FAKE/tls/ca.pem")" ] || fail "internal_ca"
  openssl verify -CAfile "$FAKE/tls/ca.pem" <(secret_value minitwit_gateway_tls_1) >/dev/null ||
    fail "gateway_tls is not signed by the internal CA"
  [ "$(secret_value minitwit_sim_authorization_1)" = "Basic $(printf 'simulator:super_safe!' | base64 -w0)" ] ||
    fail "sim_authorization is $(secret_value minitwit_sim_authorization_1)"
  [ "$(secret_value minitwit_s3_access_key_id_1)" = DO00SPACESKEY ] || fail "s3 key id"
  [ "$(secret_value minitwit_smtp_password_1)" = relay-password ] || fail "smtp password"
  [[ "$(secret_value minitwit_user_db_url_1)" =~ ^postgres://minitwit_users:[0-9a-f]{48}@postgres:5432/users$ ]] ||
    fail "user_db_url is $(secret_value minitwit_user_db_url_1)"
  [[ "$(secret_value minitwit_session_key_1)" =~ ^[0-9a-f]{128}$ ]] || fail "session key"
}
register make_secrets_creates_every_secret_the_stack_names

make_secrets_keeps_what_exists_and_follows_the_versions() {
  values_file
  echo "minitwit_session_key_1" >"$FAKE/state/secrets"
  echo "SERVICE_TOKEN_SECRET_VERSION=3" >"$FAKE/minitwit.env"
  make_secrets
  expect_status "$rc" 0
  expect_in "$out" "exists   minitwit_session_key_1 (kept)"
  expect_in "$out" "created  minitwit_service_token_3"
  expect_in "$out" "make-secrets: 10 created, 1 kept"
  expect_in "$out" "internal-tls: 7 created, 0 kept (version 1)"
  [ ! -e "$FAKE/state/secret-values/minitwit_session_key_1" ] || fail "an existing secret was replaced"
}
register make_secrets_keeps_what_exists_and_follows_the_versions

make_secrets_refuses_empty_or_example_values_and_creates_nothing() {
  : >"$FAKE/minitwit.env"
  values_file "SPACES_SECRET=" "SMTP_PASSWORD=change-me"
  make_secrets
  expect_status "$rc" 2
  expect_in "$out" "leaves SPACES_SECRET SMTP_PASSWORD empty or at the example's value"
  [ ! -s "$FAKE/state/secrets" ] || fail "created $(cat "$FAKE/state/secrets")"
  cp "$REPO_ROOT/deploy/secrets.env.example" "$FAKE/secrets.env"
  chmod 600 "$FAKE/secrets.env"
  make_secrets
  expect_status "$rc" 2
  expect_in "$out" "leaves SIM_PASSWORD SPACES_KEY SPACES_SECRET SMTP_PASSWORD empty"
}
register make_secrets_refuses_empty_or_example_values_and_creates_nothing

make_secrets_refuses_a_values_file_others_can_read_and_a_colon() {
  : >"$FAKE/minitwit.env"
  values_file
  chmod 644 "$FAKE/secrets.env"
  make_secrets
  expect_status "$rc" 2
  expect_in "$out" "is readable by others (mode 644)"
  values_file "SIM_PASSWORD=a:b"
  make_secrets
  expect_status "$rc" 2
  expect_in "$out" "SIM_PASSWORD may not contain ':'"
  [ ! -s "$FAKE/state/secrets" ] || fail "created $(cat "$FAKE/state/secrets")"
}
register make_secrets_refuses_a_values_file_others_can_read_and_a_colon

make_secrets_dry_run_creates_nothing() {
  : >"$FAKE/minitwit.env"
  values_file
  make_secrets --dry-run
  expect_status "$rc" 0
  expect_in "$out" "would create minitwit_postgres_password_1"
  expect_in "$out" "make-secrets: 11 to create, 0 kept"
  expect_in "$out" "would create the internal CA and certificates in $FAKE/tls, and their secrets"
  [ ! -s "$FAKE/state/secrets" ] || fail "created $(cat "$FAKE/state/secrets")"
  [ ! -e "$FAKE/tls" ] || fail "a dry run made $FAKE/tls"
}
register make_secrets_dry_run_creates_nothing

make_secrets_refuses_a_version_no_secret_name_can_end_in() {
  values_file
  echo "SESSION_KEY_SECRET_VERSION='2 beta'" >"$FAKE/minitwit.env"
  make_secrets
  expect_status "$rc" 2
  expect_in "$out" "SESSION_KEY_SECRET_VERSION must be a version such as 2, not '2 beta'"
  [ ! -s "$FAKE/state/secrets" ] || fail "created $(cat "$FAKE/state/secrets")"
}
register make_secrets_refuses_a_version_no_secret_name_can_end_in

make_secrets_takes_values_as_written_never_as_shell() {
  : >"$FAKE/minitwit.env"
  # shellcheck disable=SC2016 # the $ is the password's
  values_file 'SMTP_PASSWORD=p@ss$word two' "SPACES_SECRET='quoted it'\''s'" '# a comment' '' 'SPACES_KEY="DO00KEY"'
  make_secrets
  expect_status "$rc" 0
  # shellcheck disable=SC2016
  [ "$(secret_value minitwit_smtp_password_1)" = 'p@ss$word two' ] || fail "smtp password is $(secret_value minitwit_smtp_password_1)"
  [ "$(secret_value minitwit_s3_secret_access_key_1)" = "quoted it'\''s" ] || fail "spaces secret is $(secret_value minitwit_s3_secret_access_key_1)"
  [ "$(secret_value minitwit_s3_access_key_id_1)" = DO00KEY ] || fail "spaces key is $(secret_value minitwit_s3_access_key_id_1)"
}
register make_secrets_takes_values_as_written_never_as_shell

make_secrets_refuses_a_line_that_is_not_one_of_its_values() {
  : >"$FAKE/minitwit.env"
  values_file "SMTP_PASWORD=typo"
  make_secrets
  expect_status "$rc" 2
  expect_in "$out" "line 5 names SMTP_PASWORD, not one of SIM_PASSWORD SPACES_KEY SPACES_SECRET SMTP_PASSWORD"
  values_file "echo hello"
  make_secrets
  expect_status "$rc" 2
  expect_in "$out" "line 5 is not NAME=value"
  [ ! -s "$FAKE/state/secrets" ] || fail "secrets were created from a bad file: $(cat "$FAKE/state/secrets")"
}
register make_secrets_refuses_a_line_that_is_not_one_of_its_values
