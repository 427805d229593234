#!/usr/bin/env bash
# make scaling: what a replica buys, and what each request costs each service, on the
# real stack (docker-stack.yml) as a one-node swarm on this machine (make swarm-up;
# brought up here when no stack runs, and removed again unless KEEP=1). Outside CI:
# about 15 minutes. deploy/README.md's capacity table comes from its output.
#
# 1. Replicas: message-service gets a CPU limit of SCALE_CPU (0.1) a task, small enough
#    that it is the bottleneck; with 1, 2 and 3 replicas the simulator's mix goes
#    through nginx over TLS at rates SCALE_STEP (25) req/s apart, each for
#    SCALE_SECONDS, until one is not held twice in a row. Held: 0 errors and p99 <
#    300 ms (a CPU quota stalls a task for up to a scheduler period, 100 ms, so the
#    simulator's own 0.3 s is the fair limit here).
# 2. Cost: message-service as deployed again (its replicas and limit), each kind of request
#    alone at COST_RATE req/s for COST_SECONDS; the CPU each service's containers used
#    (their cgroups' cpuacct, so nothing inside the services is trusted) divided by the
#    requests answered: CPU milliseconds per request, per kind and per service.
#
# Env: BIN_DIR (release binaries; built when missing), SCALE_CPU, SCALE_STEP,
# SCALE_SECONDS (20), SCALE_MAX (1000, the highest rate tried), COST_RATE (100),
# COST_SECONDS (20), SCALE_OUT (target/scaling), KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# shellcheck source=tests/swarm/lib.sh
. tests/swarm/lib.sh
# shellcheck source=tests/lib/sim_summary.sh
. tests/lib/sim_summary.sh
log() { printf '[scaling %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

BIN_DIR="${BIN_DIR:-$root/target/release}"
SCALE_CPU="${SCALE_CPU:-0.1}"
SCALE_STEP="${SCALE_STEP:-25}"
SCALE_SECONDS="${SCALE_SECONDS:-20}"
SCALE_MAX="${SCALE_MAX:-1000}"
COST_RATE="${COST_RATE:-100}"
COST_SECONDS="${COST_SECONDS:-20}"
out="${SCALE_OUT:-$root/target/scaling}"
url=https://localhost
SERVICES=(nginx gateway user-service message-service follow-service postgres)
KINDS=(tweet follow unfollow public user)
MIX_WEIGHTS=(40 20 10 15 15) # of KINDS, in order: the simulator's default mix
MIX="tweet=40,follow=20,unfollow=10,public=15,user=15"

docker_ready || die "no Docker engine answers (docker info): make scaling needs one"
for c in jq curl; do need_cmd "$c" "$c"; done
if [ ! -x "$BIN_DIR/gateway" ] || [ ! -x "$BIN_DIR/minitwit-sim" ]; then
    log "building the release binaries"
    cargo build --release --bins
fi
export BIN_DIR
sim="$BIN_DIR/minitwit-sim"
mkdir -p "$out"

made_stack=0
if ! docker stack ls --format '{{.Name}}' 2>/dev/null | grep -qx "$STACK"; then
    log "no stack $STACK runs: make swarm-up (tests/swarm/up.sh)"
    tests/swarm/up.sh >"$out/up.log" 2>&1 || { tail -20 "$out/up.log" >&2; die "tests/swarm/up.sh failed"; }
    made_stack=1
fi
export MINITWIT_SIM_CA_CERT="$SWARM_STATE/tls/ca.pem"
[ -s "$MINITWIT_SIM_CA_CERT" ] || die "no test CA at $MINITWIT_SIM_CA_CERT: was the stack made by make swarm-up?"

# message-service as it was deployed, put back at the end: its replicas and CPU limit
# (NanoCPUs, 0 when none).
deployed_replicas="$(docker service inspect --format '{{.Spec.Mode.Replicated.Replicas}}' "${STACK}_message-service")"
deployed_cpus="$(docker service inspect --format '{{with .Spec.TaskTemplate.Resources.Limits}}{{.NanoCPUs}}{{else}}0{{end}}' \
    "${STACK}_message-service" | awk '{ print $1 / 1e9 }')"

# shellcheck disable=SC2329 # run by the EXIT trap
cleanup() {
    local status=$?
    docker service update --detach --limit-cpu "$deployed_cpus" --replicas "$deployed_replicas" \
        "${STACK}_message-service" >/dev/null 2>&1 || true
    if [ "$made_stack" = 1 ] && [ "${KEEP:-0}" != 1 ]; then
        tests/swarm/down.sh >>"$out/up.log" 2>&1 || true
    fi
    exit "$status"
}
trap cleanup EXIT

# service_set SERVICE REPLICAS CPUS: scales and limits one service (0: no limit) and
# waits until its tasks run (docker service update waits for the update to converge).
service_set() {
    docker service update --detach=false --quiet --limit-cpu "$3" --replicas "$2" "${STACK}_$1" >/dev/null
    local have
    for _ in $(seq 1 60); do
        have="$(docker service ps --filter desired-state=running --format '{{.CurrentState}}' "${STACK}_$1" | grep -c '^Running' || true)"
        [ "$have" = "$2" ] && return 0
        sleep 2
    done
    die "${STACK}_$1 did not reach $2 running tasks"
}

# cpu_ns SERVICE: the CPU time (ns) the running containers of SERVICE have used, from
# their cgroups (v1 cpuacct, or v2 cpu.stat), as the kernel counts it.
cpu_ns() {
    local total=0 id f v
    for id in $(docker ps -q --no-trunc --filter "label=com.docker.swarm.service.name=${STACK}_$1"); do
        v=""
        for f in "/sys/fs/cgroup/cpuacct/docker/$id/cpuacct.usage" \
            "/sys/fs/cgroup/cpu,cpuacct/docker/$id/cpuacct.usage"; do
            [ -r "$f" ] && { v="$(cat "$f")"; break; }
        done
        if [ -z "$v" ]; then
            for f in "/sys/fs/cgroup/system.slice/docker-$id.scope/cpu.stat" "/sys/fs/cgroup/docker/$id/cpu.stat"; do
                [ -r "$f" ] && { v="$(awk '$1 == "usage_usec" { print $2 * 1000 }' "$f")"; break; }
            done
        fi
        [ -n "$v" ] || die "no cgroup CPU counter for container $id"
        total=$((total + v))
    done
    echo "$total"
}

# load FILE RATE SECONDS MIX [ARGS...]: the simulator's load, its JSON summary in FILE.
load() {
    local f="$1" rate="$2" seconds="$3" mix="$4"
    shift 4
    "$sim" load --url "$url" --rate "$rate" --duration "${seconds}s" --users 100 --seed 7 \
        --setup-concurrency 4 --timeout-ms 2000 --mix "$mix" --json "$@" >"$f" 2>"$f.log" || true
    [ -s "$f" ] || die "the load printed no summary: $(tail -3 "$f.log")"
}
held() { [ "$(errors_of "$1")" = 0 ] && awk -v p="$(p99_of "$1")" 'BEGIN { exit !(p < 300) }'; }

# The load's 100 users, once (later loads find them taken: 400, which is fine).
for try in $(seq 1 20); do
    load "$out/register.json" 1 1 tweet=1
    [ "$(setup_errors_of "$out/register.json")" = 0 ] && break
    [ "$try" -lt 20 ] || die "the load's users could not be registered"
    sleep 3
done
load "$out/warmup.json" 100 10 "$MIX"

# --- 1. the held rate with 1, 2 and 3 limited replicas -------------------------------------
declare -A held_rate=()
for n in 1 2 3; do
    service_set message-service "$n" "$SCALE_CPU"
    sleep 5
    best=0
    for ((rate = SCALE_STEP; rate <= SCALE_MAX; rate += SCALE_STEP)); do
        f="$out/replicas-$n-rate-$rate.json"
        load "$f" "$rate" "$SCALE_SECONDS" "$MIX"
        log "message-service x$n at $SCALE_CPU CPU: $rate req/s: p99 $(p99_of "$f") ms, $(errors_of "$f") errors"
        if ! held "$f"; then
            # once more: on this noisy machine one bad step is not yet the limit
            load "$f" "$rate" "$SCALE_SECONDS" "$MIX"
            log "message-service x$n at $SCALE_CPU CPU: $rate req/s again: p99 $(p99_of "$f") ms, $(errors_of "$f") errors"
            held "$f" || break
        fi
        best=$rate
    done
    held_rate[$n]=$best
    log "message-service x$n: held $best req/s"
done

# --- 2. CPU per request, per kind and per service -----------------------------------------------
service_set message-service "$deployed_replicas" "$deployed_cpus"
sleep 5
# What the services use with no load at all (health checks, Prometheus' scrapes, pool
# upkeep): taken off each kind's figure, which would otherwise carry it.
declare -A idle=()
for s in "${SERVICES[@]}"; do idle[$s]="$(cpu_ns "$s")"; done
idle_start=$(date +%s.%N)
sleep "$COST_SECONDS"
idle_seconds=$(awk -v a="$idle_start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
for s in "${SERVICES[@]}"; do
    idle[$s]="$(awk -v a="${idle[$s]}" -v b="$(cpu_ns "$s")" -v t="$idle_seconds" 'BEGIN { printf "%.0f", (b - a) / t }')"
done
declare -A cost=()
for kind in "${KINDS[@]}"; do
    declare -A before=()
    for s in "${SERVICES[@]}"; do before[$s]="$(cpu_ns "$s")"; done
    started=$(date +%s.%N)
    f="$out/cost-$kind.json"
    load "$f" "$COST_RATE" "$COST_SECONDS" "$kind=1"
    ok="$(jq -r '.total.ok' "$f")"
    [ "$ok" -gt 0 ] || die "no $kind request was answered: $(tail -3 "$f.log")"
    took=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
    for s in "${SERVICES[@]}"; do
        cost[$kind/$s]="$(awk -v a="${before[$s]}" -v b="$(cpu_ns "$s")" -v n="$ok" -v i="${idle[$s]}" -v t="$took" \
            'BEGIN { c = (b - a - i * t) / n / 1e6; if (c < 0) c = 0; printf "%.2f", c }')"
    done
    log "$kind: $ok answered, p99 $(p99_of "$f") ms, $(errors_of "$f") errors"
done

# --- report ------------------------------------------------------------------------------------
{
    echo "== make scaling ($(nproc) cores, $(date -u +%Y-%m-%d), stack $STACK on one node)"
    echo
    echo "message-service limited to $SCALE_CPU CPU a task; the mix through nginx over TLS;"
    echo "held: 0 errors and p99 < 300 ms, ${SCALE_SECONDS} s a step, steps of $SCALE_STEP req/s"
    echo
    echo "| replicas | held req/s | × one replica |"
    echo "| --- | --- | --- |"
    for n in 1 2 3; do
        echo "| $n | ${held_rate[$n]} | $(awk -v a="${held_rate[$n]}" -v b="${held_rate[1]}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }') |"
    done
    echo
    echo "CPU milliseconds per request, each kind alone at $COST_RATE req/s for $COST_SECONDS s (cgroup cpuacct),"
    echo "less what the service uses idle (ms of CPU a second: $(for s in "${SERVICES[@]}"; do
        printf '%s %s; ' "$s" "$(awk -v i="${idle[$s]}" 'BEGIN { printf "%.1f", i / 1e6 }')"; done))"
    echo
    printf '| kind |'
    printf ' %s |' "${SERVICES[@]}"
    echo
    printf '| --- |'
    printf ' --- |%.0s' "${SERVICES[@]}"
    echo
    for kind in "${KINDS[@]}"; do
        printf '| %s |' "$kind"
        for s in "${SERVICES[@]}"; do printf ' %s |' "${cost[$kind/$s]}"; done
        echo
    done
    # the mix's row: each kind's cost weighed by its share of the mix
    printf '| the mix (%s) |' "$(IFS=/; echo "${MIX_WEIGHTS[*]}")"
    for s in "${SERVICES[@]}"; do
        for i in "${!KINDS[@]}"; do echo "${MIX_WEIGHTS[$i]} ${cost[${KINDS[$i]}/$s]}"; done \
            | awk '{ w += $1; c += $1 * $2 } END { printf " %.2f |", c / w }'
    done
    echo
} | tee "$out/report.md"
jq -n --argjson r1 "${held_rate[1]}" --argjson r2 "${held_rate[2]}" --argjson r3 "${held_rate[3]}" \
    --arg cpu "$SCALE_CPU" '{cpu_limit: $cpu, held: {"1": $r1, "2": $r2, "3": $r3}}' >"$out/held.json"
log "written: $out/report.md"
