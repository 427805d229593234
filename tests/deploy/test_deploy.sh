# shellcheck shell=bash
# shellcheck disable=SC2154 # $out and $rc: set by run (tests/deploy/lib.sh)
# deploy/scripts/deploy.sh against a fake swarm: settings from one env file,
# refusals before anything is deployed, the deploy record, the wait.

# A complete env file, a pull credential, the secrets the rendered stack names.
deploy_setup() {
  cat >"$FAKE/minitwit.env" <<'ENV'
# the operator's settings
export DOMAIN=minitwit.test.invalid ACME_EMAIL=ops@test.invalid
export ALERT_EMAIL_TO=ops@test.invalid ALERT_EMAIL_FROM=alerts@test.invalid
export ALERT_SMTP_SMARTHOST=smtp.test.invalid:587
BACKUP_BUCKET=minitwit-backups
S3_ENDPOINT=https://fra1.digitaloceanspaces.com S3_REGION=fra1
SIM_ALLOW_LIST=198.51.100.0/24
REGISTRY=ghcr.io/acme
TAG=1.3.0
MESSAGE_SERVICE_REPLICAS=4
ENV
  echo "REGISTRY_DOCKER_CONFIG=$FAKE/docker-config" >>"$FAKE/minitwit.env"
  mkdir -p "$FAKE/docker-config"
  echo '{"auths": {"ghcr.io": {"auth": "cmVhZGVyOnRva2Vu"}}}' >"$FAKE/docker-config/config.json"
  cat >"$FAKE/state/stack-config.yml" <<'YML'
version: "3.8"
services:
  gateway:
    image: ghcr.io/acme/gateway:1.4.0
secrets:
  session_key:
    name: minitwit_session_key_2
    external: true
  sim_authorization:
    name: minitwit_sim_authorization_1
    external: true
configs:
  nginx_conf:
    name: minitwit_nginx_conf_abc
    file: ./deploy/nginx/nginx.conf
YML
  printf '%s\n' minitwit_session_key_2 minitwit_sim_authorization_1 >"$FAKE/state/secrets"
}

deploy() { run "$SCRIPTS/deploy.sh" --env-file "$FAKE/minitwit.env" --timeout 20 "$@"; }

# Two frames: before and right after the deploy (new gateway image), then the update.
deploy_frames() {
  svc name=minitwit_gateway index=20 image=ghcr.io/acme/gateway:1.3.0 replicas=2/2
  svc name=minitwit_postgres index=40 image=postgres:15 replicas=1/1
  frame
  svc name=minitwit_gateway index=21 image=ghcr.io/acme/gateway:1.4.0 replicas=2/2 prev=ghcr.io/acme/gateway:1.3.0,cfg1
  svc name=minitwit_postgres index=41 image=postgres:15 replicas=1/1 prev=postgres:15,cfg1
  frame
  svc name=minitwit_gateway index=22 image=ghcr.io/acme/gateway:1.4.0 replicas=2/2 state=updating started=+101
  svc name=minitwit_postgres index=41 image=postgres:15 replicas=1/1 prev=postgres:15,cfg1
  frame
  svc name=minitwit_gateway index=23 image=ghcr.io/acme/gateway:1.4.0 replicas=2/2 state=completed started=+101
  svc name=minitwit_postgres index=41 image=postgres:15 replicas=1/1 prev=postgres:15,cfg1
  frame
}

deploy_uses_the_env_file_and_writes_a_record() {
  deploy_setup
  deploy_frames
  # a stray setting in the caller's shell must not reach the deploy
  DOMAIN=stale.example.org SIM_ALLOW_LIST='*' deploy --tag 1.4.0 --record "$FAKE/record.json" minitwit
  expect_status "$rc" 0
  local deploy_call
  deploy_call=$(calls | grep '^stack deploy')
  expect_in "$deploy_call" "--with-registry-auth --resolve-image changed"
  expect_in "$deploy_call" "TAG=1.4.0 REGISTRY=ghcr.io/acme DOMAIN=minitwit.test.invalid SIM_ALLOW_LIST=198.51.100.0/24"
  expect_in "$deploy_call" "DOCKER_CONFIG=$FAKE/docker-config"
  expect_not_in "$deploy_call" "NGINX_CONFIG_VERSION= "
  expect_in "$out" "services changed by this deploy: minitwit_gateway"
  expect_in "$out" "every service of minitwit converged"
  jq -e '.tag == "1.4.0" and .before.minitwit_gateway.index == 20 and .after.minitwit_gateway.index == 21' \
    "$FAKE/record.json" >/dev/null || fail "record: $(head -c 300 "$FAKE/record.json")"
}
register deploy_uses_the_env_file_and_writes_a_record

# A first deploy resolves every image and swarm records its platforms; a later one with
# --resolve-image changed does not resolve the images it did not change, and swarm drops
# them: not a change (the runbook walk-through saw all 13 services "changed").
deploy_ignores_the_platforms_an_unchanged_image_lost() {
  deploy_setup
  svc name=minitwit_gateway index=20 image=ghcr.io/acme/gateway:1.3.0 replicas=2/2
  svc name=minitwit_postgres index=40 image=postgres:15 replicas=1/1
  frame
  svc name=minitwit_gateway index=21 image=ghcr.io/acme/gateway:1.4.0 replicas=2/2 prev=ghcr.io/acme/gateway:1.3.0,cfg1
  svc name=minitwit_postgres index=41 image=postgres:15 replicas=1/1 prev=postgres:15,cfg1 platforms=none
  frame
  svc name=minitwit_gateway index=23 image=ghcr.io/acme/gateway:1.4.0 replicas=2/2 state=completed started=+101
  svc name=minitwit_postgres index=41 image=postgres:15 replicas=1/1 prev=postgres:15,cfg1
  frame
  deploy --tag 1.4.0 --record "$FAKE/record.json" minitwit
  expect_status "$rc" 0
  local changed
  changed=$(grep -o 'services changed by this deploy: .*' <<<"$out")
  [ "$changed" = "services changed by this deploy: minitwit_gateway " ] || fail "$changed"
}
register deploy_ignores_the_platforms_an_unchanged_image_lost

# The runbook's own example settings (deploy/README.md, First deploy, step 4), as an
# operator pastes them: deploy.sh reads them (the file is shell) and deploys.
deploy_takes_the_runbook_s_example_settings() {
  deploy_setup
  deploy_frames
  local credential
  credential=$(grep '^REGISTRY_DOCKER_CONFIG=' "$FAKE/minitwit.env")
  sed -n '/install -m 0640 -g docker \/dev\/stdin \/etc\/minitwit\/minitwit.env <<.EOF./,/^ *EOF$/p' \
    "$REPO_ROOT/deploy/README.md" | sed '1d;$d' >"$FAKE/minitwit.env"
  [ "$(grep -c '=' "$FAKE/minitwit.env")" -ge 12 ] || fail "the runbook's example was not found: $(cat "$FAKE/minitwit.env")"
  printf '%s\nREGISTRY_AUTH=none\n' "$credential" >>"$FAKE/minitwit.env"
  deploy --tag 1.4.0 --record "$FAKE/record.json" minitwit
  expect_status "$rc" 0
  expect_in "$out" "every service of minitwit converged"
}
register deploy_takes_the_runbook_s_example_settings

deploy_refuses_missing_settings() {
  deploy_setup
  deploy_frames
  sed -i '/ALERT_SMTP_SMARTHOST\|BACKUP_BUCKET/d' "$FAKE/minitwit.env"
  ALERT_SMTP_SMARTHOST=smtp.elsewhere:587 deploy --tag 1.4.0 --record "$FAKE/record.json" minitwit
  expect_status "$rc" 2
  expect_in "$out" "does not set BACKUP_BUCKET ALERT_SMTP_SMARTHOST"
  expect_not_in "$(calls)" "stack deploy"
  [ ! -e "$FAKE/record.json" ] || fail "a record was written though nothing was deployed"
}
register deploy_refuses_missing_settings

deploy_refuses_a_missing_secret() {
  deploy_setup
  deploy_frames
  echo minitwit_sim_authorization_1 >"$FAKE/state/secrets"
  deploy --record "$FAKE/record.json" minitwit
  expect_status "$rc" 2
  expect_in "$out" "missing Docker secrets: minitwit_session_key_2"
  expect_not_in "$(calls)" "stack deploy"
  [ ! -e "$FAKE/record.json" ] || fail "a record was written though nothing was deployed"
}
register deploy_refuses_a_missing_secret

deploy_refuses_without_a_pull_credential() {
  deploy_setup
  deploy_frames
  echo '{"auths": {"docker.io": {}}}' >"$FAKE/docker-config/config.json"
  deploy --record "$FAKE/record.json" minitwit
  expect_status "$rc" 2
  expect_in "$out" "no pull credential for ghcr.io"
  expect_not_in "$(calls)" "stack deploy"
  # public images need none
  echo "REGISTRY_AUTH=none" >>"$FAKE/minitwit.env"
  deploy --record "$FAKE/record.json" minitwit
  expect_status "$rc" 0
}
register deploy_refuses_without_a_pull_credential

deploy_refuses_bad_numbers_and_resolve_image() {
  deploy_setup
  deploy_frames
  echo "GATEWAY_REPLICAS=two" >>"$FAKE/minitwit.env"
  deploy minitwit
  expect_status "$rc" 2
  expect_in "$out" "GATEWAY_REPLICAS must be a whole number"
  sed -i '/GATEWAY_REPLICAS/d' "$FAKE/minitwit.env"
  echo "SESSION_KEY_SECRET_VERSION='2 3'" >>"$FAKE/minitwit.env"
  deploy minitwit
  expect_status "$rc" 2
  expect_in "$out" "SESSION_KEY_SECRET_VERSION must be a version"
  sed -i '/SESSION_KEY_SECRET_VERSION/d' "$FAKE/minitwit.env"
  echo "RESOLVE_IMAGE=sometimes" >>"$FAKE/minitwit.env"
  deploy minitwit
  expect_status "$rc" 2
  expect_in "$out" "RESOLVE_IMAGE must be always, changed or never"
  expect_not_in "$(calls)" "stack deploy"
}
register deploy_refuses_bad_numbers_and_resolve_image

# A failed `docker stack deploy` may have changed services: the record is
# written anyway (it is what tells CI there is something to roll back).
deploy_failure_still_records() {
  deploy_setup
  deploy_frames
  echo 1 >"$FAKE/state/deploy-exit"
  deploy --record "$FAKE/record.json" minitwit
  expect_status "$rc" 1
  expect_in "$out" "docker stack deploy failed (exit 1)"
  expect_in "$out" "rollback.sh --record $FAKE/record.json minitwit"
  jq -e '.deploy_status == 1 and (.after | has("minitwit_gateway"))' "$FAKE/record.json" >/dev/null ||
    fail "no record of the failed deploy"
}
register deploy_failure_still_records

deploy_convergence_failure_exits_1() {
  deploy_setup
  svc name=minitwit_gateway index=20 image=ghcr.io/acme/gateway:1.3.0 replicas=2/2
  frame
  svc name=minitwit_gateway index=21 image=ghcr.io/acme/gateway:1.4.0 replicas=2/2 prev=ghcr.io/acme/gateway:1.3.0,cfg1
  frame
  svc name=minitwit_gateway index=23 image=ghcr.io/acme/gateway:1.3.0 replicas=2/2 state=rollback_started started=+101
  frame
  deploy --tag 1.4.0 --record "$FAKE/record.json" minitwit
  expect_status "$rc" 1
  expect_in "$out" "swarm is rolling the update back"
  expect_in "$out" "not converged; roll back:"
}
register deploy_convergence_failure_exits_1

# Redeploying for a setting without --tag must not install the settings' TAG
# when the stack runs another release (CI passes --tag, the file is not updated).
deploy_without_tag_keeps_the_running_release() {
  deploy_setup
  svc name=minitwit_gateway index=20 image=ghcr.io/acme/gateway:1.4.0 replicas=2/2
  frame
  deploy --record "$FAKE/record.json" minitwit
  expect_status "$rc" 2
  expect_in "$out" "the stack runs ghcr.io/acme/gateway:1.4.0, the settings say TAG=1.3.0: pass --tag"
  expect_not_in "$(calls)" "stack deploy"
  deploy --tag 1.4.0 --record "$FAKE/record.json" minitwit
  expect_status "$rc" 0
}
register deploy_without_tag_keeps_the_running_release
