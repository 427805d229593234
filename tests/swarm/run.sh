#!/usr/bin/env bash
# make swarm-test: the real docker-stack.yml on this machine's Docker engine, and
# the nine checks of what operators rely on (tests/swarm/README.md says each one),
# under steady simulator load through nginx over TLS; then removes everything
# (down.sh), unless KEEP=1.
#
# Env: BIN_DIR (release binaries; built when missing), RATE (load, req/s, 100),
# KEEP=1 to leave the stack running afterwards.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/swarm/lib.sh
. "$here/lib.sh"
root="$SWARM_ROOT"
RATE="${RATE:-100}"
BIN_DIR="${BIN_DIR:-$root/target/release}"
started=$SECONDS

docker_ready || die "no Docker engine answers (docker info): the swarm test needs one"
for c in jq openssl curl; do need_cmd "$c" "$c"; done
if [ ! -x "$BIN_DIR/gateway" ] || [ ! -x "$BIN_DIR/minitwit-sim" ]; then
    log "building the release binaries"
    (cd "$root" && cargo build --release --bins)
fi
sim="$BIN_DIR/minitwit-sim"
out="$SWARM_STATE/results"
url=https://localhost
export MINITWIT_SIM_CA_CERT="$SWARM_STATE/tls/ca.pem"

# shellcheck disable=SC2329 # run by the EXIT trap
cleanup() {
    local status=$?
    jobs -p | xargs -r kill 2>/dev/null || true
    if [ "${KEEP:-0}" = 1 ]; then
        log "KEEP=1: the stack stays up; remove it with make swarm-down"
    else
        "$here/down.sh" || true
    fi
    exit "$status"
}
trap cleanup EXIT

declare -a results=()
failed=0
# result NAME OK|FAIL FIGURES
result() {
    results+=("$(printf '%-4s %-46s %s' "$2" "$1" "$3")")
    if [ "$2" = OK ]; then log "check $1: $3"; else log "check $1 FAILED: $3"; failed=1; keep_logs "$1"; fi
    check_started="$(date +%s)"
}

# keep_logs NAME: a failed check's service logs, since the check began, go to
# $out/logs/ (down.sh removes the tasks, and with them their logs), and the answers
# of 500 and above that the app services logged (with their causes) to the output.
keep_logs() {
    local dir="$out/logs/${1%% *}" s
    mkdir -p "$dir"
    for s in nginx gateway user-service message-service follow-service postgres; do
        # bounded: `docker service logs` has been seen to hang here (no --follow)
        timeout 30 docker service logs --raw --timestamps --since "$check_started" "${STACK}_$s" \
            >"$dir/$s.log" 2>&1 || true
    done
    log "check $1: logs in $dir; the failed answers the services logged:"
    cat "$dir"/gateway.log "$dir"/*-service.log | grep '"status":5' | head -n 20 >&2 || true
}

# load NAME SECONDS [args]: steady simulator load in the background, summary to
# $out/NAME.json. Runs reuse the same 100 users (seed 7) unless LOAD_SEED says; they
# are registered 4 at a time (a burst of argon2 hashes is not what is measured).
load_pid=""
load() {
    local name="$1" seconds="$2"
    shift 2
    "$sim" load --url "$url" --rate "$RATE" --duration "${seconds}s" --users 100 --seed "${LOAD_SEED:-7}" \
        --setup-concurrency 4 --timeout-ms 2000 --json "$@" >"$out/$name.json" 2>"$out/$name.log" &
    load_pid=$!
}
# load_wait NAME: waits for the load; prints "failed/sent" and sets LOAD_FAILED.
load_wait() {
    wait "$load_pid" || true
    [ -s "$out/$1.json" ] || die "load $1 printed no summary: $(tail -3 "$out/$1.log")"
    LOAD_FAILED="$(jq '.errors' "$out/$1.json")"
    # registrations before the load that failed (their users may still exist)
    LOAD_SETUP_FAILED="$(jq '.setup.errors' "$out/$1.json")"
    # no error in the last 10 s of the load: the system recovered
    LOAD_RECOVERED="$(jq '(.last_error_s // -1) < (.elapsed_s - 10)' "$out/$1.json")"
    LOAD_WINDOW="$(jq '(.last_error_s // 0) - (.first_error_s // 0) | . * 100 | round / 100' "$out/$1.json")"
    LOAD_KINDS="$(jq -c '.total.errors_by_kind' "$out/$1.json")"
    LOAD_SENT="$(jq '.total.sent' "$out/$1.json")"
}

# few_503s: whether the last load's failures (target 0) stay within what scaling or a
# rolling change may cost on this 2-core machine: only 503 answers (the gateway's call budget
# ran out while a replica started or stopped beside the load), at most 1 in 200. A
# refused or reset connection, a 502 or 500, a client time-out, or more 503s fail.
few_503s() {
    [ "$LOAD_FAILED" -eq 0 ] && return 0
    [ $((LOAD_FAILED * 200)) -le "$LOAD_SENT" ] && [ "$LOAD_KINDS" = "{\"status_503\":$LOAD_FAILED}" ]
}
target0() { [ "$LOAD_FAILED" = 0 ] && echo "target 0: met" || echo "target 0: missed"; }

# load_stop NAME: ends the load now (it summarises what it sent) and waits for it.
load_stop() {
    kill -TERM "$load_pid" 2>/dev/null || true
    load_wait "$1"
}

container_of() { docker ps -q --filter "label=com.docker.swarm.service.name=${STACK}_$1" | head -1; }
prom() { # prom QUERY: the result vector of an instant query, as JSON
    docker exec "$(container_of prometheus)" wget -qO- \
        "http://127.0.0.1:9090/api/v1/query?query=$(jq -rn --arg q "$1" '$q|@uri')" | jq -c '.data.result'
}
psql_in() { # psql_in DATABASE SQL
    docker exec -i -e PGOPTIONS=--client-min-messages=warning "$(container_of postgres)" \
        psql -U postgres -d "$1" -Atq -v ON_ERROR_STOP=1 -c "$2"
}

mkdir -p "$SWARM_STATE"
rm -rf "$out"
mkdir -p "$out"
check_started="$(date +%s)"

# --- 1. first deploy ----------------------------------------------------------------
"$here/up.sh"
converge_s="$(cat "$SWARM_STATE/first-converge-seconds")"
smoke_ok=OK
CURL_CA_BUNDLE="$MINITWIT_SIM_CA_CERT" "$root/deploy/scripts/smoke.sh" "$url" >"$out/smoke.log" 2>&1 || smoke_ok=FAIL
# 2 replicas of each app service, node exporter, Prometheus and Alertmanager
expected=11
down_targets=""
targets=0
for _ in $(seq 1 45); do
    down_targets="$(docker exec "$(container_of prometheus)" wget -qO- http://127.0.0.1:9090/api/v1/targets \
        | jq -r '[.data.activeTargets[] | select(.health != "up") | .labels.job + "/" + .labels.instance] | join(" ")')"
    targets="$(prom 'count(up == 1)' | jq -r '.[0].value[1] // 0')"
    [ -z "$down_targets" ] && [ "$targets" -ge "$expected" ] && break
    sleep 2
done
if [ "$smoke_ok" = OK ] && [ -z "$down_targets" ] && [ "$targets" -ge "$expected" ]; then
    result "1 first deploy, smoke test, targets up" OK "converged in ${converge_s} s, smoke test passed, $targets targets up"
else
    result "1 first deploy, smoke test, targets up" FAIL "smoke $smoke_ok ($(tail -n 2 "$out/smoke.log" | tr '\n' ' ')); $targets of $expected targets up; not up: $down_targets"
fi

# --- 2. scale message-service to 3 -----------------------------------------------------
requests_by_instance() {
    prom 'sum by (instance) (http_requests_total{job="message-service", route!~"/health|/ready|/metrics"})' \
        | jq -c 'map({(.metric.instance): (.value[1] | tonumber)}) | add // {}'
}
load scale 75
sleep 5
t0=$SECONDS
docker service scale --detach "${STACK}_message-service=3" >/dev/null
seen=0
while [ $((SECONDS - t0)) -lt 90 ]; do
    seen="$(prom 'count(up{job="message-service"} == 1)' | jq -r '.[0].value[1] // 0')"
    [ "$seen" = 3 ] && break
    sleep 1
done
targets_s=$((SECONDS - t0))
before="$(requests_by_instance)"
sleep 35
after="$(requests_by_instance)"
load_wait scale
serving="$(jq -n --argjson a "$before" --argjson b "$after" '[$b | to_entries[] | select(.value > ($a[.key] // 0))] | length')"
moved="$(jq -n -c --argjson a "$before" --argjson b "$after" '[$b | to_entries[] | {(.key): (.value - ($a[.key] // 0))}] | add')"
if [ "$seen" = 3 ] && [ "$targets_s" -le 30 ] && [ "$serving" = 3 ] && few_503s; then
    result "2 scale message-service to 3" OK "3 targets after ${targets_s} s; requests per replica in 35 s: $moved; $LOAD_FAILED of $LOAD_SENT failed ($(target0)) (registration burst before: $LOAD_SETUP_FAILED of 100 answered an error)"
else
    result "2 scale message-service to 3" FAIL "$seen targets after ${targets_s} s; $serving replicas served ($moved); $LOAD_FAILED of $LOAD_SENT failed $LOAD_KINDS"
fi
docker service scale --detach "${STACK}_message-service=2" >/dev/null
converge 120 >/dev/null || true

# --- 3. rolling update a -> b -------------------------------------------------------
TAG=b "$here/images.sh" 2>"$out/images-b.log" || die "images b: $(tail -3 "$out/images-b.log")"
load update 200
sleep 5
t0=$SECONDS
deploy_ok=OK
deploy_release b "$out/deploy-b.json" >"$out/deploy-b.log" 2>&1 || deploy_ok=FAIL
update_s=$((SECONDS - t0))
load_stop update
# the image of every running task of the four app services, counted: "2 x <image>; ..."
versions="$(for s in gateway user-service message-service follow-service; do
    docker ps --filter "label=com.docker.swarm.service.name=${STACK}_$s" --format '{{.Image}}'; done \
    | sort | uniq -c | awk '{printf "%s x %s; ", $1, $2}')"
if [ "$deploy_ok" = OK ] && few_503s && ! grep -q ':a;' <<<"$versions"; then
    result "3 rolling update a -> b" OK "converged in ${update_s} s; running: $versions$LOAD_FAILED of $LOAD_SENT requests failed ($(target0)) $LOAD_KINDS"
else
    result "3 rolling update a -> b" FAIL "deploy $deploy_ok in ${update_s} s; running: $versions$LOAD_FAILED of $LOAD_SENT failed $LOAD_KINDS"
fi

# --- 4. a bad release ------------------------------------------------------------------
# gateway:bad never becomes healthy, follow-service:bad exits at once; the other
# two (and the backup image) are build b under a new tag, so the deploy changes them too.
for image in user-service message-service backup; do
    docker tag "minitwit-test/$image:b" "minitwit-test/$image:bad"
done
printf 'FROM minitwit-test/gateway:b\nENTRYPOINT ["sleep", "infinity"]\n' \
    | docker_build -q -t minitwit-test/gateway:bad - >/dev/null
printf 'FROM minitwit-test/follow-service:b\nENTRYPOINT ["/bin/sh", "-c", "echo bad release >&2; exit 3"]\n' \
    | docker_build -q -t minitwit-test/follow-service:bad - >/dev/null
load bad 600
sleep 5
t0=$SECONDS
deploy_status=0
deploy_release bad "$out/deploy-bad.json" >"$out/deploy-bad.log" 2>&1 || deploy_status=$?
deploy_s=$((SECONDS - t0))
rollback_status=0
"$root/deploy/scripts/rollback.sh" --record "$out/deploy-bad.json" --timeout 300 "$STACK" \
    >"$out/rollback-bad.log" 2>&1 || rollback_status=$?
rollback_s=$((SECONDS - t0 - deploy_s))
sleep 5
load_stop bad
running="$(for s in gateway user-service message-service follow-service; do
    docker service inspect --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}' "${STACK}_$s"; done | tr '\n' ' ')"
if [ "$deploy_status" = 1 ] && [ "$rollback_status" = 0 ] && ! grep -q ':bad' <<<"$running" \
    && few_503s; then
    result "4 bad release rolls back" OK "deploy.sh exit $deploy_status after ${deploy_s} s, rollback.sh ${rollback_s} s; running: $running; $LOAD_FAILED of $LOAD_SENT failed ($(target0)) $LOAD_KINDS"
else
    result "4 bad release rolls back" FAIL "deploy.sh exit $deploy_status after ${deploy_s} s, rollback.sh exit $rollback_status; running: $running; $LOAD_FAILED of $LOAD_SENT failed $LOAD_KINDS"
fi
converge 180 >/dev/null || true

# --- 5. kill one replica of each app service ------------------------------------------
load kill 600
sleep 10
victims=""
for s in gateway user-service message-service follow-service; do
    victims="$victims $(container_of "$s")"
done
# shellcheck disable=SC2086 # one id per word
docker kill $victims >/dev/null
# swarm notices the dead tasks within a few seconds; until then nothing is missing
sleep 5
replaced_s="$(converge 120)" && replaced_s="$((5 + replaced_s)) s" || replaced_s=""
sleep 10
load_stop kill
figures="$LOAD_FAILED of $LOAD_SENT requests failed ($(target0)), error window ${LOAD_WINDOW} s $LOAD_KINDS; replicas replaced in ${replaced_s:-over 125 s}"
# Required: the swarm replaces them and the errors stop; the count is the figure.
if [ "$LOAD_RECOVERED" = true ] && [ -n "$replaced_s" ]; then
    result "5 kill one replica of each app service" OK "$figures"
else
    result "5 kill one replica of each app service" FAIL "$figures; recovered: $LOAD_RECOVERED"
fi

# --- 6. restart PostgreSQL -----------------------------------------------------------------
# Users of their own (seed 8), so each one's tweets fit in one page for verify.
LOAD_SEED=8 load pg 600 --ack-log "$out/pg-acks.jsonl"
sleep 10
# PostgreSQL's own downtime, as a client on the backend network sees it: pg_isready
# (1 s time-out) every 0.1 s from the backup task, from the first refusal to the first
# answer after it. The target is the issue's: error window <= this downtime + 1 s.
# shellcheck disable=SC2016 # expanded inside the container
docker exec "$(container_of backup)" sh -c 'down=0; end=$(($(date +%s) + 170))
    while [ "$(date +%s)" -lt "$end" ]; do
        if pg_isready -q -t 1; then echo "$(date +%s.%N) up"; [ "$down" = 1 ] && exit 0
        else echo "$(date +%s.%N) down"; down=1; fi
        sleep 0.1
    done' >"$out/pg-probe.log" 2>&1 &
probe=$!
sleep 1
since="$(date +%s)"
docker service update --force --detach "${STACK}_postgres" >/dev/null
pg_s="$(converge 180 "$since")" || pg_s="over 180"
sleep 15
load_stop pg
wait "$probe" || true
window="$LOAD_WINDOW"
pg_down="$(awk '$2 == "down" && !d { d = $1 } $2 == "up" && d { printf "%.2f", $1 - d; exit }' "$out/pg-probe.log")"
pg_failed="$LOAD_FAILED"
verify_status=0
"$sim" verify --url "$url" --ack-log "$out/pg-acks.jsonl" --json >"$out/pg-verify.json" 2>"$out/pg-verify.log" \
    || verify_status=$?
verified="$(jq -r '"\(.acknowledged) acknowledged tweets: \(.kept) kept once, \(.lost) lost, \(.duplicated) duplicated"' \
    "$out/pg-verify.json" 2>/dev/null || echo "verify failed: $(tail -2 "$out/pg-verify.log")")"
if [ -n "$pg_down" ]; then
    met="$(jq -rn --argjson w "$window" --argjson d "$pg_down" 'if $w <= $d + 1 then "met" else "missed" end')"
    target="PostgreSQL down ${pg_down} s, target <= $(awk -v d="$pg_down" 'BEGIN { printf "%.2f", d + 1 }') s: $met"
else
    target="PostgreSQL's downtime not measured: $(tail -1 "$out/pg-probe.log" 2>/dev/null)"
fi
figures="converged in ${pg_s} s; $pg_failed of $LOAD_SENT requests failed, error window ${window} s ($target) $LOAD_KINDS; $verified"
# Required: nothing acknowledged lost or doubled, and the errors stop.
if [ "$verify_status" = 0 ] && [ "$LOAD_RECOVERED" = true ]; then
    result "6 PostgreSQL restart" OK "$figures"
else
    result "6 PostgreSQL restart" FAIL "$figures; recovered: $LOAD_RECOVERED"
fi

# --- 7. backup and restore -------------------------------------------------------------------
# No load: the restored copy is compared with the live tables, which must not move.
backup="$(container_of backup)"
checksum() { # checksum DATABASE TABLE: row count and a digest of every row
    psql_in "$1" "SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '-') FROM $2 t"
}
t0=$SECONDS
backup_ok=OK
docker exec "$backup" backup.sh --once >"$out/backup.log" 2>&1 || backup_ok=FAIL
same=0
details=""
for pair in users:users messages:messages follows:follows; do
    db="${pair%%:*}" table="${pair##*:}"
    docker exec "$backup" restore.sh --date latest --into "${db}_restored" "$db" >>"$out/restore.log" 2>&1 || backup_ok=FAIL
    live="$(checksum "$db" "$table")"
    restored="$(checksum "${db}_restored" "$table" 2>/dev/null || echo missing)"
    if [ "$live" = "$restored" ]; then same=$((same + 1)); fi
    details="$details $table ${live%% *} rows;"
    psql_in postgres "DROP DATABASE IF EXISTS ${db}_restored" >/dev/null || true
done
figures="backup and 3 restores in $((SECONDS - t0)) s;$details $same of 3 identical"
if [ "$backup_ok" = OK ] && [ "$same" = 3 ]; then
    result "7 backup and restore" OK "$figures"
else
    result "7 backup and restore" FAIL "$figures ($(tail -q -n 2 "$out/backup.log" "$out/restore.log" | tr '\n' ' '))"
fi

# --- 8. gateway down: the alert mail ----------------------------------------------------
t0=$SECONDS
docker service scale --detach "${STACK}_gateway=0" >/dev/null
alerted=""
mailed=""
while [ $((SECONDS - t0)) -lt 330 ]; do
    if [ -z "$alerted" ] && docker exec "$(container_of alertmanager)" wget -qO- http://127.0.0.1:9093/api/v2/alerts 2>/dev/null \
        | jq -e 'any(.[]; .labels.alertname == "MinitwitServiceDown" and .labels.job == "gateway")' >/dev/null; then
        alerted=$((SECONDS - t0))
    fi
    if docker service logs "${STACK}_mailsink" 2>/dev/null | grep -q 'MinitwitServiceDown'; then
        mailed=$((SECONDS - t0))
        break
    fi
    sleep 5
done
docker service scale --detach "${STACK}_gateway=2" >/dev/null
mail_line="$(docker service logs --raw "${STACK}_mailsink" 2>/dev/null | grep -m1 'MinitwitServiceDown' || true)"
if [ -n "$alerted" ] && [ -n "$mailed" ]; then
    result "8 gateway at 0: alert mail" OK "in Alertmanager after ${alerted} s, mailed after ${mailed} s (rule: for 2m): $mail_line"
else
    result "8 gateway at 0: alert mail" FAIL "Alertmanager: ${alerted:-no alert}, mail: ${mailed:-none} within 330 s"
fi

# --- 9. the entrypoints' error paths (plain containers) ------------------------------
if "$here/entrypoints.sh" >"$out/entrypoints.log" 2>&1; then
    result "9 entrypoint error paths" OK "$(grep -c '^OK' "$out/entrypoints.log") cases: postgres init retried, nginx without a certificate, a bad alertmanager setting"
else
    result "9 entrypoint error paths" FAIL "$(grep -v '^OK' "$out/entrypoints.log" | tr '\n' ' ')"
fi

# --- summary ------------------------------------------------------------------------------------
total=$((SECONDS - started))
printf '\n== swarm test: %d checks, load %s req/s through nginx (TLS), %d s in all\n' "${#results[@]}" "$RATE" "$total"
printf '%s\n' "${results[@]}"
passed="$(printf '%s\n' "${results[@]}" | grep -c '^OK' || true)"
printf '%d passed, %d failed\n' "$passed" "$((${#results[@]} - passed))"
exit "$failed"
