# shellcheck shell=bash
# shellcheck disable=SC2154 # $out and $rc: set by run (tests/deploy/lib.sh)
# deploy/provision/ssh-allow-sync.sh: ufw follows the cloud firewall's SSH
# sources. The API answers from files (curl reads file:// URLs), a fake ufw
# logs what it is told.

ssh_sync_setup() {
  cat >"$FAKE/bin/ufw" <<'UFW'
#!/usr/bin/env bash
printf '%s\n' "$*" >>"$(dirname "$0")/../ufw.log"
UFW
  chmod +x "$FAKE/bin/ufw"
  mkdir -p "$FAKE/api/firewalls"
  export SSH_SYNC_ENV_FILE=/nonexistent SSH_SYNC_FIREWALL_ID=fw-1 SSH_SYNC_TOKEN=dop_v1_test
  export SSH_SYNC_API="file://$FAKE/api" SSH_SYNC_STATE="$FAKE/sync-state"
  export SSH_SYNC_STATIC="203.0.113.7/32 10.10.0.0/20"
}

# firewall JSON with these extra SSH sources (besides the static ones)
firewall() {
  jq -n --args '{firewall: {id: "fw-1", inbound_rules: [
      {protocol: "tcp", ports: "80", sources: {addresses: ["0.0.0.0/0", "::/0"]}},
      {protocol: "tcp", ports: "22", sources: {addresses: (["203.0.113.7/32", "10.10.0.0/20"] + $ARGS.positional)}},
      {protocol: "udp", ports: "4789", sources: {addresses: ["10.10.0.0/20"]}}]}}' "$@" \
    >"$FAKE/api/firewalls/fw-1"
}

sync_once() { run "$REPO_ROOT/deploy/provision/ssh-allow-sync.sh"; }

ssh_sync_follows_the_cloud_firewall() {
  ssh_sync_setup
  firewall 198.51.100.23/32
  sync_once
  expect_status "$rc" 0
  expect_in "$(cat "$FAKE/ufw.log")" "allow from 198.51.100.23/32 to any port 22 proto tcp comment ssh (cloud firewall, temporary)"
  expect_count "$(cat "$FAKE/ufw.log")" "allow" 1
  # unchanged: nothing to do
  sync_once
  expect_count "$(cat "$FAKE/ufw.log")" "allow" 1
  # the workflow closed the firewall again
  firewall
  sync_once
  expect_status "$rc" 0
  expect_in "$(cat "$FAKE/ufw.log")" "delete allow from 198.51.100.23/32 to any port 22 proto tcp"
  expect_not_in "$(cat "$FAKE/ufw.log")" "203.0.113.7"
  expect_not_in "$(cat "$FAKE/ufw.log")" "10.10.0.0/20"
  [ ! -s "$FAKE/sync-state" ] || fail "state not empty: $(cat "$FAKE/sync-state")"
}
register ssh_sync_follows_the_cloud_firewall

ssh_sync_never_opens_to_everyone() {
  ssh_sync_setup
  firewall 0.0.0.0/0 ::/0 198.51.100.23 not-an-address
  sync_once
  expect_status "$rc" 0
  expect_count "$(cat "$FAKE/ufw.log")" "allow" 1
  expect_in "$(cat "$FAKE/ufw.log")" "allow from 198.51.100.23/32 to any port 22"
  expect_in "$out" "never SSH from everywhere"
}
register ssh_sync_never_opens_to_everyone

ssh_sync_fails_closed_without_the_api() {
  ssh_sync_setup
  firewall 198.51.100.23/32
  sync_once
  rm "$FAKE/api/firewalls/fw-1"
  sync_once
  expect_status "$rc" 0
  expect_in "$out" "cannot read cloud firewall fw-1"
  expect_not_in "$(cat "$FAKE/ufw.log")" "delete"
  SSH_SYNC_MAX_AGE=0 sync_once
  expect_in "$(cat "$FAKE/ufw.log")" "delete allow from 198.51.100.23/32 to any port 22 proto tcp"
}
register ssh_sync_fails_closed_without_the_api
