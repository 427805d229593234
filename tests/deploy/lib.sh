# shellcheck shell=bash
# Helpers of tests/deploy_scripts.sh: a fake `docker` on PATH that replays swarm
# states (tests/deploy/fake-docker.sh), a builder for those states in the shape of
# `docker service inspect` output, and a tiny case runner.
#
# A test case is a function. It builds frames with
#
#   svc name=minitwit_gateway index=12 image=gateway:1.4.0 config=nginx_conf_ab12 \
#       replicas=2/2 state=updating started=+3 prev=gateway:1.3.0,nginx_conf_ab12
#   frame                      # ends the frame: every svc since the last one
#
# (state: an UpdateStatus.State, or none; started: seconds after $T0; prev:
# image,config of PreviousSpec; placement: one constraint; mode=global or job;
# message: UpdateStatus.Message), then runs the script under test, which finds
# the fake docker first on PATH.

DEPLOY_TESTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$DEPLOY_TESTS_DIR/../.." && pwd)"
export SCRIPTS="$REPO_ROOT/deploy/scripts"

# A fresh fake swarm for one case: $FAKE/bin/docker, $FAKE/state.
fake_swarm() {
  FAKE=$(mktemp -d)
  mkdir -p "$FAKE/bin" "$FAKE/state/frames"
  cp "$DEPLOY_TESTS_DIR/fake-docker.sh" "$FAKE/bin/docker"
  PATH="$FAKE/bin:$PATH"
  export PATH FAKE
  T0=$(($(date +%s) - 100))
  FRAME_SERVICES=()
  FRAME_REPLICAS=()
  FRAME_NO=0
}

iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%S.123456789Z; }

# spec NAME IMAGE CONFIG REPLICAS PLACEMENT MODE: a .Spec as docker prints it
spec_json() {
  jq -n --arg name "$1" --arg image "$2" --arg config "$3" --argjson replicas "$4" \
    --arg placement "$5" --arg mode "$6" '{
    Name: $name,
    Labels: {"com.docker.stack.image": $image, "com.docker.stack.namespace": "minitwit"},
    TaskTemplate: {
      ContainerSpec: {
        Image: ($image + "@sha256:" + ($image * 8 | explode | map(. % 16 | if . < 10 then . + 48 else . + 87 end) | implode | .[0:64])),
        Labels: {"com.docker.stack.namespace": "minitwit"},
        Env: ["RUST_BACKTRACE=1"],
        Privileges: {CredentialSpec: null, SELinuxContext: null},
        StopGracePeriod: 20000000000,
        Healthcheck: {Test: ["CMD", "curl", "-fsS", "http://127.0.0.1:8080/health"],
                      Interval: 10000000000, Timeout: 3000000000, StartPeriod: 20000000000, Retries: 3},
        Configs: [{File: {Name: "/etc/minitwit/conf", UID: "0", GID: "0", Mode: 292},
                   ConfigID: ("id" + $config), ConfigName: $config}],
        Isolation: "default"
      },
      Resources: {Limits: {NanoCPUs: 1000000000, MemoryBytes: 268435456},
                  Reservations: {NanoCPUs: 100000000, MemoryBytes: 67108864}},
      RestartPolicy: {Condition: "any", Delay: 5000000000, MaxAttempts: 0, Window: 60000000000},
      Placement: (if $placement == "" then {Platforms: [{Architecture: "amd64", OS: "linux"}]}
                  else {Constraints: [$placement], Platforms: [{Architecture: "amd64", OS: "linux"}]} end),
      Networks: [{Target: "net1", Aliases: [($name | sub("^minitwit_"; ""))]}],
      LogDriver: {Name: "json-file", Options: {"max-file": "3", "max-size": "10m"}},
      ForceUpdate: 0,
      Runtime: "container"
    },
    Mode: (if $mode == "global" then {Global: {}}
           elif $mode == "job" then {ReplicatedJob: {MaxConcurrent: 1, TotalCompletions: $replicas}}
           else {Replicated: {Replicas: $replicas}} end),
    UpdateConfig: {Parallelism: 1, Delay: 10000000000, FailureAction: "rollback",
                   Monitor: 30000000000, MaxFailureRatio: 0, Order: "start-first"},
    RollbackConfig: {Parallelism: 1, Delay: 5000000000, FailureAction: "pause",
                     Monitor: 30000000000, MaxFailureRatio: 0, Order: "start-first"},
    EndpointSpec: {Mode: "vip"}
  }'
}

svc() {
  local name="" index=10 image="img:1" config="cfg1" replicas="1/1" state="none" started=0
  local prev="" placement="" mode="replicated" message="" platforms="" kv
  for kv in "$@"; do
    case "$kv" in
      name=*) name="${kv#*=}" ;;
      index=*) index="${kv#*=}" ;;
      image=*) image="${kv#*=}" ;;
      config=*) config="${kv#*=}" ;;
      replicas=*) replicas="${kv#*=}" ;;
      state=*) state="${kv#*=}" ;;
      started=*) started="${kv#*=}" ;;
      prev=*) prev="${kv#*=}" ;;
      placement=*) placement="${kv#*=}" ;;
      mode=*) mode="${kv#*=}" ;;
      message=*) message="${kv#*=}" ;;
      # platforms=none: the spec lists no platforms, as after a deploy that did not resolve its image
      platforms=*) platforms="${kv#*=}" ;;
      *) echo "svc: unknown field $kv" >&2; return 1 ;;
    esac
  done
  local desired="${replicas#*/}" spec previous="null" status="null"
  spec=$(spec_json "$name" "$image" "$config" "$desired" "$placement" "$mode")
  if [ "$platforms" = none ]; then
    spec=$(jq -c 'del(.TaskTemplate.Placement.Platforms)' <<<"$spec")
  fi
  if [ -n "$prev" ]; then
    previous=$(spec_json "$name" "${prev%%,*}" "${prev#*,}" "$desired" "$placement" "$mode")
  fi
  if [ "$state" != "none" ]; then
    status=$(jq -n --arg state "$state" --arg at "$(iso $((T0 + started)))" --arg msg "$message" \
      '{State: $state, StartedAt: $at, Message: $msg}
       + (if ($state | test("completed")) then {CompletedAt: $at} else {} end)')
  fi
  FRAME_SERVICES+=("$(jq -n --arg id "id_${name}" --argjson index "$index" --argjson spec "$spec" \
    --argjson previous "$previous" --argjson status "$status" --arg created "$(iso "$T0")" '
    {ID: $id, Version: {Index: $index}, CreatedAt: $created, UpdatedAt: $created, Spec: $spec}
    + (if $previous == null then {} else {PreviousSpec: $previous} end)
    + {Endpoint: {Spec: {Mode: "vip"}, VirtualIPs: [{NetworkID: "net1", Addr: "10.0.1.2/24"}]}}
    + (if $status == null then {} else {UpdateStatus: $status} end)')")
  FRAME_REPLICAS+=("$(jq -n --arg n "$name" --arg r "$replicas" '{($n): $r}')")
}

frame() {
  local dir
  dir=$(printf '%s/state/frames/%03d' "$FAKE" "$FRAME_NO")
  mkdir -p "$dir"
  if [ "${#FRAME_SERVICES[@]}" -eq 0 ]; then
    echo '[]' >"$dir/inspect.json"
    echo '{}' >"$dir/replicas.json"
  else
    printf '%s\n' "${FRAME_SERVICES[@]}" | jq -s '.' >"$dir/inspect.json"
    printf '%s\n' "${FRAME_REPLICAS[@]}" | jq -s 'add' >"$dir/replicas.json"
  fi
  FRAME_SERVICES=()
  FRAME_REPLICAS=()
  FRAME_NO=$((FRAME_NO + 1))
}

# A deploy record (deploy.sh --record) from two frames already built:
#   record_from BEFORE_FRAME AFTER_FRAME > file
record_from() {
  local b a
  b=$(printf '%s/state/frames/%03d/inspect.json' "$FAKE" "$1")
  a=$(printf '%s/state/frames/%03d/inspect.json' "$FAKE" "$2")
  # the snapshots as deploy.sh takes them
  # shellcheck source=deploy/scripts/swarm-lib.sh
  . "$SCRIPTS/swarm-lib.sh"
  jq -n --argjson b "$(swarm_snapshot_of <"$b")" --argjson a "$(swarm_snapshot_of <"$a")" --argjson since "$T0" '
    {stack: "minitwit", since: $since, deploy_status: 0, before: $b, after: $a}'
}

# Drop frames already built (e.g. those only used for record_from).
frames_restart() {
  rm -rf "$FAKE/state/frames" "$FAKE/state/frame" "$FAKE/state/served" "$FAKE/state/pending"
  mkdir -p "$FAKE/state/frames"
  FRAME_NO=0
}

# deploy_record [FIELD=VALUE... -- FIELD=VALUE...]: writes $FAKE/record.json,
# the deploy record of the frames built so far (the first: the swarm before
# `docker stack deploy`, the last: right after it), and starts the frames
# again: those built next are what the script under test sees.
# With fields, it first builds those two frames for a deploy that changed one
# service: before, the svc fields before --; after, the same with the fields
# after -- on top and, as previous spec, the image and config of before:
#   deploy_record name=minitwit_gateway index=20 image=gateway:1 replicas=2/2 -- index=21 image=gateway:2
deploy_record() {
  if [ $# -gt 0 ]; then
    local before=() prev
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do
      before+=("$1")
      shift
    done
    [ "${1:-}" = "--" ] || { echo "deploy_record: no -- between before and after" >&2; return 1; }
    shift
    svc "${before[@]}"
    prev=$(jq -r '.Spec.Labels["com.docker.stack.image"] + "," + .Spec.TaskTemplate.ContainerSpec.Configs[0].ConfigName' \
      <<<"${FRAME_SERVICES[-1]}")
    frame
    svc "${before[@]}" "$@" "prev=$prev"
    frame
  fi
  record_from 0 $((FRAME_NO - 1)) >"$FAKE/record.json"
  frames_restart
}

calls() { cat "$FAKE/state/calls" 2>/dev/null || true; }

# run COMMAND...: runs the script under test; $out is what it printed (stdout
# and stderr), $rc its exit status; prints $out too, for a failing case's log.
run() {
  rc=0
  out=$("$@" 2>&1) || rc=$?
  printf '%s\n' "$out"
}

# --- assertions: print why and fail ------------------------------------------
fail() {
  echo "  assertion failed: $*" >&2
  return 1
}
expect_status() { [ "$1" -eq "$2" ] || fail "exit status $1, expected $2"; }
expect_in() { grep -qF -- "$2" <<<"$1" || fail "expected to find '$2' in: $(tail -n 20 <<<"$1")"; }
expect_not_in() { ! grep -qF -- "$2" <<<"$1" || fail "did not expect '$2' in: $(tail -n 20 <<<"$1")"; }
expect_count() {
  local n
  n=$(grep -cF -- "$2" <<<"$1" || true)
  [ "$n" -eq "$3" ] || fail "expected '$2' $3 time(s), found $n in: $(tail -n 20 <<<"$1")"
}

# --- runner --------------------------------------------------------------------
CASES=()
register() { CASES+=("$1"); }

run_cases() {
  local passed=0 failed=0 c out rc
  for c in "${CASES[@]}"; do
    out=$(mktemp)
    # a subshell per case: its own fake swarm, PATH and variables. Not part
    # of an && or || list, where bash would ignore set -e inside it.
    set +e
    (
      set -euo pipefail
      fake_swarm
      trap 'rm -rf "$FAKE"' EXIT
      "$c"
    ) >"$out" 2>&1
    rc=$?
    set -e
    if [ "$rc" -eq 0 ]; then
      passed=$((passed + 1))
      printf 'ok    %s\n' "$c"
    else
      failed=$((failed + 1))
      printf 'FAIL  %s\n' "$c"
      sed 's/^/      /' "$out" | tail -n 40
    fi
    rm -f "$out"
  done
  printf '%d passed, %d failed\n' "$passed" "$failed"
  [ "$failed" -eq 0 ]
}
