# shellcheck shell=bash
# shellcheck disable=SC2154 # $out and $rc: set by run (tests/deploy/lib.sh)
# deploy/scripts/rollback.sh with a deploy record, against replayed swarm states.

rollback() { run "$SCRIPTS/rollback.sh" --timeout 20 "$@"; }

# The review's defect: a rollback after a failure where nothing was deployed
# swapped production back to the release before the running one.
rollback_without_a_record_of_a_deploy_does_nothing() {
  svc name=minitwit_gateway index=20 image=gateway:1.4.0 replicas=2/2 prev=gateway:1.3.0,cfg1
  frame

  rollback --record "$FAKE/never-written.json" minitwit
  expect_status "$rc" 0
  expect_in "$out" "nothing was deployed, nothing to roll back"
  expect_not_in "$(calls)" "service rollback"
}
register rollback_without_a_record_of_a_deploy_does_nothing

# Only the services the deploy changed, and not those swarm already rolled back.
rollback_only_what_the_deploy_changed() {
  svc name=minitwit_gateway index=20 image=gateway:1.4.0 replicas=2/2 prev=gateway:1.3.0,cfg1
  svc name=minitwit_nginx index=30 image=nginx:1.27 config=conf_a replicas=1/1
  svc name=minitwit_postgres index=40 image=postgres:15 replicas=1/1
  frame
  svc name=minitwit_gateway index=21 image=gateway:1.5.0 replicas=2/2 prev=gateway:1.4.0,cfg1
  svc name=minitwit_nginx index=31 image=nginx:1.27 config=conf_b replicas=1/1 prev=nginx:1.27,conf_a
  svc name=minitwit_postgres index=41 image=postgres:15 replicas=1/1 prev=postgres:15,cfg1
  frame
  deploy_record
  # when the rollback starts: gateway updated, nginx rolled back by swarm itself
  svc name=minitwit_gateway index=23 image=gateway:1.5.0 replicas=2/2 state=completed started=+5 prev=gateway:1.4.0,cfg1
  svc name=minitwit_nginx index=34 image=nginx:1.27 config=conf_a replicas=1/1 state=rollback_completed started=+5
  svc name=minitwit_postgres index=41 image=postgres:15 replicas=1/1 prev=postgres:15,cfg1
  frame
  # after `docker service rollback minitwit_gateway`
  svc name=minitwit_gateway index=24 image=gateway:1.4.0 replicas=2/2 state=rollback_started started=+60 prev=gateway:1.5.0,cfg1
  svc name=minitwit_nginx index=34 image=nginx:1.27 config=conf_a replicas=1/1 state=rollback_completed started=+5
  svc name=minitwit_postgres index=41 image=postgres:15 replicas=1/1 prev=postgres:15,cfg1
  frame
  svc name=minitwit_gateway index=25 image=gateway:1.4.0 replicas=2/2 state=rollback_completed started=+60 prev=gateway:1.5.0,cfg1
  svc name=minitwit_nginx index=34 image=nginx:1.27 config=conf_a replicas=1/1 state=rollback_completed started=+5
  svc name=minitwit_postgres index=41 image=postgres:15 replicas=1/1 prev=postgres:15,cfg1
  frame

  rollback --record "$FAKE/record.json" minitwit
  expect_status "$rc" 0
  expect_count "$(calls)" "service rollback" 1
  expect_in "$(calls)" "service rollback --detach minitwit_gateway"
  expect_in "$out" "minitwit_nginx: already back on its pre-deploy spec"
  expect_not_in "$out" "minitwit_postgres:"
  expect_in "$out" "every service of minitwit converged"
}
register rollback_only_what_the_deploy_changed

# A service rollback.sh must not roll back, and one docker would not: both
# reported, the exit status says so.
rollback_fails_for_a_service_changed_again_or_refused_by_docker() {
  svc name=minitwit_gateway index=20 image=gateway:1.4.0 replicas=2/2
  svc name=minitwit_user-service index=30 image=user:1.4.0 replicas=2/2
  frame
  svc name=minitwit_gateway index=21 image=gateway:1.5.0 replicas=2/2 prev=gateway:1.4.0,cfg1
  svc name=minitwit_user-service index=31 image=user:1.5.0 replicas=2/2 prev=user:1.4.0,cfg1
  frame
  deploy_record
  # someone deployed 1.6.0 meanwhile: its previous spec is 1.5.0, not 1.4.0
  svc name=minitwit_gateway index=30 image=gateway:1.6.0 replicas=2/2 state=completed started=+9 prev=gateway:1.5.0,cfg1
  svc name=minitwit_user-service index=31 image=user:1.5.0 replicas=2/2 prev=user:1.4.0,cfg1
  frame
  echo minitwit_user-service >"$FAKE/state/rollback-fails"

  rollback --record "$FAKE/record.json" minitwit
  expect_status "$rc" 1
  expect_in "$out" "minitwit_gateway: not rolled back: changed again since the deploy"
  expect_not_in "$(calls)" "service rollback --detach minitwit_gateway"
  expect_count "$(calls)" "service rollback" 1
  expect_in "$out" "minitwit_user-service: not rolled back: Error response from daemon"
  expect_in "$out" "2 service(s) could not be rolled back"
}
register rollback_fails_for_a_service_changed_again_or_refused_by_docker

rollback_fails_when_the_rollback_does_not_converge() {
  deploy_record name=minitwit_gateway index=20 image=gateway:1.4.0 replicas=2/2 -- index=21 image=gateway:1.5.0
  svc name=minitwit_gateway index=22 image=gateway:1.5.0 replicas=1/2 state=completed started=+9 prev=gateway:1.4.0,cfg1
  frame
  svc name=minitwit_gateway index=23 image=gateway:1.4.0 replicas=1/2 state=rollback_paused started=+30 prev=gateway:1.5.0,cfg1
  frame

  rollback --record "$FAKE/record.json" minitwit
  expect_status "$rc" 1
  expect_in "$(calls)" "service rollback --detach minitwit_gateway"
  expect_in "$out" "minitwit_gateway: rollback paused"
}
register rollback_fails_when_the_rollback_does_not_converge

# Without a record (the runbook's "everything, to the previous spec"): every
# service whose previous spec differs, minus those swarm rolled back itself.
rollback_without_record_skips_identical_and_self_rolled_back() {
  svc name=minitwit_gateway index=21 image=gateway:1.5.0 replicas=2/2 state=completed started=+5 prev=gateway:1.4.0,cfg1
  svc name=minitwit_postgres index=41 image=postgres:15 replicas=1/1 prev=postgres:15,cfg1
  svc name=minitwit_user-service index=50 image=user:1.4.0 replicas=2/2 state=rollback_completed started=+5
  frame
  svc name=minitwit_gateway index=22 image=gateway:1.4.0 replicas=2/2 state=rollback_completed started=+60 prev=gateway:1.5.0,cfg1
  svc name=minitwit_postgres index=41 image=postgres:15 replicas=1/1 prev=postgres:15,cfg1
  svc name=minitwit_user-service index=50 image=user:1.4.0 replicas=2/2 state=rollback_completed started=+5
  frame

  rollback --since "$T0" minitwit
  expect_status "$rc" 0
  expect_count "$(calls)" "service rollback" 1
  expect_in "$(calls)" "service rollback --detach minitwit_gateway"
  expect_in "$out" "minitwit_user-service: swarm already rolled it back"
}
register rollback_without_record_skips_identical_and_self_rolled_back
