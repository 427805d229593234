# shellcheck shell=bash
# shellcheck disable=SC2154 # the helpers and variables of run.sh, which sources this
# The slow checks of make cluster-test-full (CLUSTER_FULL=1), sourced by run.sh
# after the others, under the same load: the runbook's "Quorum lost" and "The
# database's node lost", each step as deploy/README.md writes it.

# serving_again: the site answers a write through nginx (a new user's tweet) again.
serving_again() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 3 --cacert "$MINITWIT_SIM_CA_CERT" "$url/public" | grep -qx 200
}

# --- 5b. two managers lost: quorum, and the runbook's recovery --------------------------
# manager2 (edge, monitoring) and manager3 are killed: the swarm has no leader, and
# nginx went with manager2, so the site is down until the recovery is done.
window_begin
t0=$SECONDS
host_docker kill "$(node_container manager2)" "$(node_container manager3)" >/dev/null
no_leader=""
for _ in $(seq 1 60); do
    if ! on manager1 node ls >/dev/null 2>"$out/no-leader.txt"; then no_leader=$((SECONDS - t0)); break; fi
    sleep 1
done
log "quorum lost after ${no_leader:-?} s: $(head -c 200 "$out/no-leader.txt")"
# deploy/README.md, "Quorum lost": on the one manager left
on manager1 swarm init --force-new-cluster --advertise-addr "${NODE_IP[manager1]}" >>"$out/rejoin.log" 2>&1 || true
for n in manager2 manager3; do
    for id in $(on manager1 node ls --format '{{.ID}} {{.Hostname}}' | awk -v n="$n" '$2 == n { print $1 }'); do
        on manager1 node rm --force "$id" >/dev/null || true
    done
done
# the two machines come back: each leaves its old swarm and joins again
host_docker start "$(node_container manager2)" "$(node_container manager3)" >/dev/null
manager_token="$(on manager1 swarm join-token -q manager)"
for n in manager2 manager3; do
    for _ in $(seq 1 60); do on "$n" info >/dev/null 2>&1 && break; sleep 1; done
    on "$n" swarm leave --force >/dev/null 2>&1 || true
    # A join can outlast the CLI's wait ("Timeout was reached before node joined.
    # The attempt to join the swarm will continue in the background"): wait for it.
    on "$n" swarm join --advertise-addr "${NODE_IP[$n]}" --token "$manager_token" "${NODE_IP[manager1]}:2377" \
        >>"$out/rejoin.log" 2>&1 || true
    for _ in $(seq 1 90); do
        [ "$(on "$n" info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null)" = active ] && break
        sleep 1
    done
done
# labels belong to the node object, which the rejoin made anew
on manager1 node update --label-add edge=true --label-add monitoring=true manager2 >/dev/null || true
recovered=""
while [ $((SECONDS - t0)) -lt 300 ]; do
    if serving_again && settled; then recovered=$((SECONDS - t0)); break; fi
    sleep 2
done
sleep 10
window_end
managers="$(on manager1 node ls --format '{{.Hostname}}:{{.ManagerStatus}}:{{.Status}}' | tr '\n' ' ')"
errors_span="$(errors | jq -s --argjson a "$window_start" 'map(select(.at >= $a)) | if length > 0 then (max_by(.at).at - min_by(.at).at | . * 10 | round / 10) else 0 end')"
if [ -n "$recovered" ]; then
    result "5b two managers lost: quorum recovered" OK "no leader after ${no_leader:-?} s; --force-new-cluster, rejoin, labels: serving again after ${recovered} s (site down ${errors_span} s: nginx went with manager2); nodes: $managers; $(failures)"
else
    result "5b two managers lost: quorum recovered" FAIL "not serving within 300 s; nodes: $managers; $(failures)"
fi

# --- 6. the database's node lost ----------------------------------------------------------
# manager1 (db, and the swarm's leader) dies for good. Its PostgreSQL data is on a
# block volume (here a volume of this machine's engine, mounted at /mnt/pgdata as
# provisioning mounts DigitalOcean's), which outlives the droplet: the runbook
# attaches it to a replacement node, labels that node db, and PostgreSQL and the
# backup start there with every committed write.
MANAGER=manager2
use_node "$MANAGER"
window_begin
t0=$SECONDS
host_docker kill "$(node_container manager1)" >/dev/null
for _ in $(seq 1 60); do
    [ "$(on "$MANAGER" node inspect --format '{{.Status.State}}' manager1 2>/dev/null)" = down ] && break
    sleep 1
done
down_s=$((SECONDS - t0))
# deploy/README.md, "The database's node lost": a replacement node with the volume
start_node replacement
for _ in $(seq 1 60); do on replacement info >/dev/null 2>&1 && break; sleep 1; done
on replacement swarm join --advertise-addr "${NODE_IP[replacement]}" \
    --token "$(on "$MANAGER" swarm join-token -q manager)" "${NODE_IP[manager2]}:2377" >>"$out/rejoin.log" 2>&1 || true
for _ in $(seq 1 90); do
    [ "$(on replacement info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null)" = active ] && break
    sleep 1
done
on "$MANAGER" node update --label-add db=true replacement >/dev/null || true
on "$MANAGER" node demote manager1 >/dev/null 2>&1 || true
on "$MANAGER" node rm --force manager1 >/dev/null || true
recovered=""
while [ $((SECONDS - t0)) -lt 300 ]; do
    if [ "$(tasks postgres)" = replacement ] && serving_again && settled; then
        recovered=$((SECONDS - t0)); break
    fi
    sleep 2
done
sleep 15
window_end
errors_span="$(errors | jq -s --argjson a "$window_start" 'map(select(.at >= $a)) | if length > 0 then (max_by(.at).at - min_by(.at).at | . * 10 | round / 10) else 0 end')"
managers="$(on "$MANAGER" node ls --format '{{.Hostname}}:{{.ManagerStatus}}' | tr '\n' ' ')"
if [ -n "$recovered" ]; then
    result "6 the database's node lost" OK "manager1 down after ${down_s} s; replacement joined with the volume, labelled db: PostgreSQL on $(tasks postgres), serving after ${recovered} s (RTO; errors for ${errors_span} s); RPO: see the writes read back below; managers: $managers; $(failures)"
else
    result "6 the database's node lost" FAIL "postgres on '$(tasks postgres)'; not serving within 300 s; $(on "$MANAGER" service ps --no-trunc --format '{{.Node}} {{.CurrentState}} {{.Error}}' "${STACK}_postgres" | head -3 | tr '\n' ' ')"
fi

# --- 6b. the database's node lost with its volume: restore from the off-node backup -----------
# Run after the others (run.sh calls it when the load has stopped and every write was read
# back). The replacement node of check 6 dies and its volume is gone too (a block volume
# destroyed, or a region lost): the runbook's fallback, step by step: a new node with an
# empty volume labelled db, the app services stopped, restore.sh from the bucket, the
# services started again. RPO: the tweets acknowledged after the last backup, counted.
full_after_load() {
    local t0 probe auth before after lost kept n rto restored_ok=OK node=replacement2
    auth="Authorization: Basic c2ltdWxhdG9yOnN1cGVyX3NhZmUh" # the test secrets' (test_secrets)
    sim_call() { # sim_call METHOD PATH [JSON]: the status code
        curl -s -o "$out/6b-body" -w '%{http_code}' --max-time 10 --cacert "$MINITWIT_SIM_CA_CERT" \
            -X "$1" -H "$auth" -H 'Content-Type: application/json' ${3:+--data "$3"} "$url$2"
    }
    digests() { local db; for db in users messages follows; do echo "$db $(checksum "$db" "$db")"; done; }
    probe="rpo-probe-$RANDOM"
    sim_call POST /register "{\"username\": \"$probe\", \"email\": \"$probe@localhost\", \"pwd\": \"secret1\"}" >/dev/null
    for n in 1 2 3 4 5; do sim_call POST "/msgs/$probe" "{\"content\": \"before the backup $n\"}" >/dev/null; done
    # the newest backup, as the nightly run makes it
    task_exec backup backup.sh --once >"$out/6b-backup.log" 2>&1 || restored_ok=FAIL
    before="$(digests)"
    lost=0
    for n in $(seq 1 20); do
        [ "$(sim_call POST "/msgs/$probe" "{\"content\": \"after the backup $n\"}")" = 204 ] && lost=$((lost + 1))
    done
    # the db node dies, and its volume with it (manager1, gone since check 6, is removed
    # too: its stopped container still holds the volume)
    t0=$SECONDS
    host_docker rm -f "$(node_container replacement)" "$(node_container manager1)" >/dev/null
    if ! host_docker volume rm "$CLUSTER_PGDATA_VOLUME" >"$out/6b-volume.log" 2>&1; then
        result "6b db node and volume lost: restore from S3" FAIL "the volume could not be removed: $(cat "$out/6b-volume.log")"
        return 0
    fi
    for _ in $(seq 1 60); do
        [ "$(on "$MANAGER" node inspect --format '{{.Status.State}}' replacement 2>/dev/null)" = down ] && break
        sleep 1
    done
    # deploy/README.md, "The database's node lost", without the volume: a new node with an
    # empty one, labelled db; PostgreSQL starts empty (its init script makes the roles and
    # databases), the services migrate the empty databases
    start_node "$node"
    for _ in $(seq 1 60); do on "$node" info >/dev/null 2>&1 && break; sleep 1; done
    host_docker exec "$(node_container "$node")" mkdir -p /mnt/pgdata/postgres
    on "$node" swarm join --advertise-addr "${NODE_IP[$node]}" \
        --token "$(on "$MANAGER" swarm join-token -q manager)" "${NODE_IP[manager2]}:2377" >>"$out/rejoin.log" 2>&1 || true
    for _ in $(seq 1 90); do
        [ "$(on "$node" info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null)" = active ] && break
        sleep 1
    done
    on "$MANAGER" node update --label-add db=true "$node" >/dev/null || true
    on "$MANAGER" node demote replacement >/dev/null 2>&1 || true
    on "$MANAGER" node rm --force replacement >/dev/null || true
    for _ in $(seq 1 150); do
        [ "$(tasks postgres)" = "$node" ] && [ "$(tasks backup)" = "$node" ] && psql_in postgres "SELECT 1" >/dev/null 2>&1 && break
        sleep 2
    done
    # the restore: the services that own the databases stopped, all three restored, started
    for s in user-service message-service follow-service; do
        on "$MANAGER" service scale --detach "${STACK}_$s=0" >/dev/null
    done
    converge 120 >/dev/null || true
    task_exec backup restore.sh --date latest --yes >"$out/6b-restore.log" 2>&1 || restored_ok=FAIL
    for s in user-service message-service follow-service; do
        on "$MANAGER" service scale --detach "${STACK}_$s=2" >/dev/null
    done
    rto=""
    while [ $((SECONDS - t0)) -lt 400 ]; do
        if serving_again && settled && [ "$(sim_call GET "/msgs/$probe?no=100")" = 200 ]; then rto=$((SECONDS - t0)); break; fi
        sleep 2
    done
    after="$(digests)"
    kept="$(jq '[.[] | select(.content | startswith("before the backup"))] | length' "$out/6b-body" 2>/dev/null || echo 0)"
    n="$(jq '[.[] | select(.content | startswith("after the backup"))] | length' "$out/6b-body" 2>/dev/null || echo "?")"
    if [ "$restored_ok" = OK ] && [ -n "$rto" ] && [ "$before" = "$after" ] && [ "$kept" = 5 ] && [ "$n" = 0 ]; then
        result "6b db node and volume lost: restore from S3" OK "a new node with an empty volume labelled db, restore.sh from the bucket: serving the backup's data after ${rto} s (RTO); every row's digest as at the backup ($(echo "$after" | awk '{printf "%s %s rows; ", $1, $2}')); RPO: the ${lost} tweets acknowledged after the backup are gone, the 5 before it kept"
    else
        result "6b db node and volume lost: restore from S3" FAIL "restore ${restored_ok}; serving: ${rto:-not within 400 s}; digests equal: $([ "$before" = "$after" ] && echo yes || echo "no ($before / $after)"); probe tweets before/after the backup: $kept/$n; $(tail -n 2 "$out/6b-restore.log" | tr '\n' ' ')"
    fi
}
