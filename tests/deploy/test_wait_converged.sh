# shellcheck shell=bash
# shellcheck disable=SC2154 # $out and $rc: set by run (tests/deploy/lib.sh)
# deploy/scripts/wait-converged.sh against replayed swarm states.

# wait-converged.sh with a short poll interval; sets $out and $rc
wait_converged() { run "$SCRIPTS/wait-converged.sh" --interval 0.1 --timeout "${WAIT_TIMEOUT:-20}" "$@"; }

# The review's defect: a config-only update was declared converged before
# swarm even started it (only images were compared).
wait_config_only_update_waits_for_swarm() {
  # before the deploy
  svc name=minitwit_nginx index=10 image=nginx:1.27 config=nginx_conf_aaaa replicas=1/1 state=completed started=-50
  svc name=minitwit_gateway index=20 image=gateway:1.4.0 config=none replicas=2/2
  frame
  # right after `docker stack deploy`: new config in the spec, no update yet
  svc name=minitwit_nginx index=11 image=nginx:1.27 config=nginx_conf_bbbb replicas=1/1 prev=nginx:1.27,nginx_conf_aaaa
  svc name=minitwit_gateway index=21 image=gateway:1.4.0 config=none replicas=2/2 prev=gateway:1.4.0,none
  frame
  deploy_record
  # what the polls see: not started, not started, updating (old task stopped), completed
  for s in none none updating; do
    svc name=minitwit_nginx index=12 image=nginx:1.27 config=nginx_conf_bbbb replicas=1/1 state=$s started=+5
    svc name=minitwit_gateway index=21 image=gateway:1.4.0 config=none replicas=2/2
    frame
  done
  svc name=minitwit_nginx index=13 image=nginx:1.27 config=nginx_conf_bbbb replicas=0/1 state=updating started=+5
  svc name=minitwit_gateway index=21 image=gateway:1.4.0 config=none replicas=2/2
  frame
  svc name=minitwit_nginx index=14 image=nginx:1.27 config=nginx_conf_bbbb replicas=1/1 state=completed started=+5
  svc name=minitwit_gateway index=21 image=gateway:1.4.0 config=none replicas=2/2
  frame

  wait_converged --record "$FAKE/record.json" minitwit
  expect_status "$rc" 0
  expect_in "$out" "minitwit_nginx: task template changed, update not started yet"
  expect_in "$out" "minitwit_nginx: update in progress"
  expect_in "$out" "converged (poll 5)"
}
register wait_config_only_update_waits_for_swarm

# Services the deploy touched without changing their tasks never get an update
# status; an old status of a service the deploy did not touch is not ours.
wait_unchanged_and_untouched_services_settle_at_once() {
  svc name=minitwit_gateway index=20 image=gateway:1.4.0 replicas=2/2
  svc name=minitwit_grafana index=30 image=grafana:11 replicas=1/1 state=paused started=-3000 message="old failure"
  frame
  svc name=minitwit_gateway index=21 image=gateway:1.4.0 replicas=2/2 prev=gateway:1.4.0,cfg1
  svc name=minitwit_grafana index=30 image=grafana:11 replicas=1/1 state=paused started=-3000 message="old failure"
  frame
  deploy_record
  svc name=minitwit_gateway index=21 image=gateway:1.4.0 replicas=2/2 prev=gateway:1.4.0,cfg1
  svc name=minitwit_grafana index=30 image=grafana:11 replicas=1/1 state=paused started=-3000 message="old failure"
  frame

  wait_converged --record "$FAKE/record.json" minitwit
  expect_status "$rc" 0
  expect_in "$out" "converged (poll 1)"
}
register wait_unchanged_and_untouched_services_settle_at_once

wait_swarm_rollback_fails_at_once() {
  deploy_record name=minitwit_gateway index=20 image=gateway:1.4.0 replicas=2/2 -- index=21 image=gateway:1.5.0
  svc name=minitwit_gateway index=22 image=gateway:1.5.0 replicas=2/2 state=updating started=+2
  frame
  svc name=minitwit_gateway index=23 image=gateway:1.4.0 replicas=1/2 state=rollback_started started=+2 \
    message="update rolled back due to failure or early termination of task x"
  frame

  wait_converged --record "$FAKE/record.json" minitwit
  expect_status "$rc" 1
  expect_in "$out" "minitwit_gateway: swarm is rolling the update back: update rolled back due to failure"
  expect_in "$out" "fake docker: stack ps"
}
register wait_swarm_rollback_fails_at_once

wait_rollback_completed_fails() {
  deploy_record name=minitwit_user-service index=5 image=user:1 replicas=2/2 -- index=6 image=user:2
  svc name=minitwit_user-service index=9 image=user:1 replicas=2/2 state=rollback_completed started=+2
  frame

  wait_converged --record "$FAKE/record.json" minitwit
  expect_status "$rc" 1
  expect_in "$out" "minitwit_user-service: swarm rolled the update back"
}
register wait_rollback_completed_fails

wait_paused_update_fails() {
  deploy_record name=minitwit_postgres index=5 image=postgres:15 replicas=1/1 -- index=6 config=init2
  svc name=minitwit_postgres index=7 image=postgres:15 config=init2 replicas=0/1 state=paused started=+1 \
    message="update paused due to failure or early termination of task y"
  frame

  wait_converged --record "$FAKE/record.json" minitwit
  expect_status "$rc" 1
  expect_in "$out" "minitwit_postgres: update paused: update paused due to failure"
}
register wait_paused_update_fails

wait_times_out_on_an_endless_update() {
  deploy_record name=minitwit_gateway index=20 image=gateway:1 replicas=2/2 -- index=21 image=gateway:2
  svc name=minitwit_gateway index=22 image=gateway:2 replicas=2/2 state=updating started=+1
  frame

  WAIT_TIMEOUT=1 wait_converged --record "$FAKE/record.json" minitwit
  expect_status "$rc" 1
  expect_in "$out" "timed out after 1s; still pending:"
  expect_in "$out" "minitwit_gateway: update in progress"
}
register wait_times_out_on_an_endless_update

wait_completed_update_needs_all_replicas() {
  deploy_record name=minitwit_message-service index=20 image=msg:1 replicas=2/2 -- index=21 image=msg:2
  svc name=minitwit_message-service index=22 image=msg:2 replicas=1/2 state=completed started=+1
  frame
  svc name=minitwit_message-service index=22 image=msg:2 replicas=2/2 state=completed started=+1
  frame

  wait_converged --record "$FAKE/record.json" minitwit
  expect_status "$rc" 0
  expect_in "$out" "minitwit_message-service: 1/2 running"
  expect_in "$out" "converged (poll 2)"
}
register wait_completed_update_needs_all_replicas

# Swarm does not replace tasks whose node still fits a changed placement, nor
# any task of a service scaled to 0: no update status will ever come.
wait_no_update_expected_for_placement_or_zero_replicas() {
  svc name=minitwit_prometheus index=20 image=prom:2 replicas=1/1 placement="node.labels.monitoring == true"
  svc name=minitwit_grafana index=30 image=grafana:11 replicas=0/0
  frame
  svc name=minitwit_prometheus index=21 image=prom:2 replicas=1/1 placement="node.labels.metrics == true" prev=prom:2,cfg1
  svc name=minitwit_grafana index=31 image=grafana:11 config=dash2 replicas=0/0 prev=grafana:11,cfg1
  frame
  deploy_record
  svc name=minitwit_prometheus index=21 image=prom:2 replicas=1/1 placement="node.labels.metrics == true" prev=prom:2,cfg1
  svc name=minitwit_grafana index=31 image=grafana:11 config=dash2 replicas=0/0 prev=grafana:11,cfg1
  frame

  wait_converged --record "$FAKE/record.json" minitwit
  expect_status "$rc" 0
  expect_in "$out" "converged (poll 1)"
}
register wait_no_update_expected_for_placement_or_zero_replicas

# A service the deploy created has no update status: running == desired only.
wait_new_service_needs_its_tasks() {
  svc name=minitwit_gateway index=20 image=gateway:1 replicas=2/2
  frame
  svc name=minitwit_gateway index=20 image=gateway:1 replicas=2/2
  svc name=minitwit_newsvc index=40 image=new:1 replicas=0/1
  frame
  deploy_record
  svc name=minitwit_gateway index=20 image=gateway:1 replicas=2/2
  svc name=minitwit_newsvc index=40 image=new:1 replicas=0/1
  frame
  svc name=minitwit_gateway index=20 image=gateway:1 replicas=2/2
  svc name=minitwit_newsvc index=40 image=new:1 replicas=1/1
  frame

  wait_converged --record "$FAKE/record.json" minitwit
  expect_status "$rc" 0
  expect_in "$out" "minitwit_newsvc: 0/1 running"
  expect_in "$out" "converged (poll 2)"
}
register wait_new_service_needs_its_tasks

wait_after_rollback_accepts_rollback_completed() {
  svc name=minitwit_gateway index=22 image=gateway:2 replicas=2/2 state=completed started=+1 prev=gateway:1,cfg1
  frame
  printf '{"before": %s}\n' "$(record_from 0 0 | jq -c .before)" >"$FAKE/record.json"
  frames_restart
  svc name=minitwit_gateway index=23 image=gateway:1 replicas=2/2 state=rollback_started started=+3 prev=gateway:2,cfg1
  frame
  svc name=minitwit_gateway index=24 image=gateway:1 replicas=2/2 state=rollback_completed started=+3 prev=gateway:2,cfg1
  frame

  wait_converged --after-rollback --record "$FAKE/record.json" minitwit
  expect_status "$rc" 0
  expect_in "$out" "minitwit_gateway: rollback in progress"
  expect_in "$out" "converged (poll 2)"
}
register wait_after_rollback_accepts_rollback_completed

# Without a record, --since tells this deploy's update states from older ones.
wait_without_record_uses_since() {
  svc name=minitwit_gateway index=22 image=gateway:2 replicas=2/2 state=rollback_completed started=-60
  svc name=minitwit_follow-service index=8 image=follow:2 replicas=2/2 state=updating started=+5
  frame
  svc name=minitwit_gateway index=22 image=gateway:2 replicas=2/2 state=rollback_completed started=-60
  svc name=minitwit_follow-service index=9 image=follow:2 replicas=2/2 state=rollback_completed started=+5
  frame

  wait_converged --since "$T0" minitwit
  expect_status "$rc" 1
  expect_not_in "$out" "minitwit_gateway: swarm rolled"
  expect_in "$out" "minitwit_follow-service: swarm rolled the update back"
}
register wait_without_record_uses_since

# A global service needs a task on every node; a job that ran to completion
# has none running and never will.
wait_global_and_job_services() {
  svc name=minitwit_node-exporter index=3 image=ne:1 replicas=3/3 mode=global
  svc name=minitwit_alloy index=4 image=alloy:1 replicas=2/3 mode=global
  svc name=minitwit_migrate index=5 image=migrate:1 replicas=0/1 mode=job
  frame
  svc name=minitwit_node-exporter index=3 image=ne:1 replicas=3/3 mode=global
  svc name=minitwit_alloy index=4 image=alloy:1 replicas=3/3 mode=global
  svc name=minitwit_migrate index=5 image=migrate:1 replicas=0/1 mode=job
  frame

  wait_converged minitwit
  expect_status "$rc" 0
  expect_in "$out" "minitwit_alloy: 2/3 running"
  expect_not_in "$out" "minitwit_migrate: "
  expect_in "$out" "minitwit_migrate (0/1 running)"
  expect_in "$out" "converged (poll 2)"
}
register wait_global_and_job_services

# A node lost: swarm goes on listing its tasks as running (3/2: their last known
# state, though their desired state is shutdown) while their replacements run
# elsewhere. Found by the cluster test (check 5): a deploy with a
# manager down never converged.
wait_does_not_count_tasks_on_a_node_that_is_down() {
  svc name=minitwit_gateway index=3 image=gw:1 replicas=3/2
  svc name=minitwit_node-exporter index=4 image=ne:1 replicas=4/3 mode=global
  frame
  printf '%s\n' "manager1 Ready" "manager3 Down" "worker1 Ready" >"$FAKE/state/nodes"
  printf '%s\n' "minitwit_gateway.1 manager1 Running 1 minute ago" \
    "minitwit_gateway.2 manager3 Running 9 minutes ago" "minitwit_gateway.2 worker1 Running 1 minute ago" \
    "minitwit_node-exporter.abc manager1 Running 9 minutes ago" \
    "minitwit_node-exporter.def manager3 Running 9 minutes ago" \
    "minitwit_node-exporter.ghi worker1 Running 9 minutes ago" >"$FAKE/state/stack-ps"
  wait_converged minitwit
  expect_status "$rc" 0
  expect_in "$out" "minitwit_gateway (2/2 running (1 on a node that is down))"
  expect_in "$out" "minitwit_node-exporter (3/3 running (1 on a node that is down))"
}
register wait_does_not_count_tasks_on_a_node_that_is_down

# ... but a replacement that is not running yet is still waited for.
wait_for_the_replacement_of_a_task_on_a_node_that_is_down() {
  svc name=minitwit_gateway index=3 image=gw:1 replicas=2/2
  frame
  svc name=minitwit_gateway index=3 image=gw:1 replicas=3/2
  frame
  printf '%s\n' "manager1 Ready" "manager3 Down" >"$FAKE/state/nodes"
  printf '%s\n' "minitwit_gateway.1 manager1 Running 1 minute ago" \
    "minitwit_gateway.2 manager3 Running 9 minutes ago" >"$FAKE/state/stack-ps"
  wait_converged minitwit
  expect_status "$rc" 0
  expect_in "$out" "minitwit_gateway: 1/2 running (1 on a node that is down)"
  expect_in "$out" "converged (poll 2)"
}
register wait_for_the_replacement_of_a_task_on_a_node_that_is_down
