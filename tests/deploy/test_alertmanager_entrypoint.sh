# shellcheck shell=bash
# shellcheck disable=SC2154 # $out and $rc: set by run (tests/deploy/lib.sh)
# deploy/alertmanager/entrypoint.sh renders Alertmanager's configuration from the
# deployment's settings (ALERTMANAGER_RENDER_ONLY=1: it stops before starting the
# binary); its refusals name the setting. amtool checks what it renders when present.

render() {
  run env ALERTMANAGER_CONFIG_TEMPLATE="$REPO_ROOT/deploy/alertmanager/alertmanager.yml" \
    ALERTMANAGER_CONFIG="$FAKE/am.yml" ALERTMANAGER_RENDER_ONLY=1 "$@" \
    sh "$REPO_ROOT/deploy/alertmanager/entrypoint.sh"
}
valid() {
  ! command -v amtool >/dev/null 2>&1 || amtool check-config "$FAKE/am.yml" >/dev/null || fail "amtool refuses $(cat "$FAKE/am.yml")"
}

alertmanager_heartbeat_by_mail_once_a_day_without_a_url() {
  render ALERT_EMAIL_TO=ops@team.example
  expect_status "$rc" 0
  local am
  am="$(cat "$FAKE/am.yml")"
  expect_in "$am" "  - name: heartbeat
    email_configs:
      - to: ops@team.example"
  expect_in "$am" "repeat_interval: 24h"
  expect_not_in "$am" "tls_config"
  valid
}
register alertmanager_heartbeat_by_mail_once_a_day_without_a_url

alertmanager_heartbeat_to_the_url_every_5_minutes_and_the_relays_ca() {
  printf 'ca\n' >"$FAKE/ca.pem"
  render ALERT_HEARTBEAT_URL=https://hc-ping.example.org/abc ALERT_SMTP_CA_FILE="$FAKE/ca.pem"
  expect_status "$rc" 0
  local am
  am="$(cat "$FAKE/am.yml")"
  expect_in "$am" "      - url: 'https://hc-ping.example.org/abc'"
  expect_in "$am" "repeat_interval: 5m"
  expect_in "$am" "tls_config: {ca_file: '$FAKE/ca.pem'}"
  valid
}
register alertmanager_heartbeat_to_the_url_every_5_minutes_and_the_relays_ca

alertmanager_refuses_a_heartbeat_that_is_no_url() {
  render ALERT_HEARTBEAT_URL="hc-ping.example.org/abc"
  expect_status "$rc" 1
  expect_in "$out" "ALERT_HEARTBEAT_URL must be an http:// or https:// URL"
}
register alertmanager_refuses_a_heartbeat_that_is_no_url

alertmanager_refuses_an_unreadable_ca_file() {
  render ALERT_SMTP_CA_FILE="$FAKE/missing.pem"
  expect_status "$rc" 1
  expect_in "$out" "ALERT_SMTP_CA_FILE points at $FAKE/missing.pem, which is not readable"
}
register alertmanager_refuses_an_unreadable_ca_file
