# shellcheck shell=bash
# shellcheck disable=SC2154 # the helpers and variables of run.sh, which sources this
# The checks of the stack itself that the one-node swarm test made (a bad release
# rolled back, replicas killed, PostgreSQL restarted, backup and restore, the alert
# mail, the entrypoints' error paths), now on the four nodes, under run.sh's load.
# Sourced by run.sh, which calls stack_checks_under_load after the node checks and
# stack_checks_after_load once the load is stopped and its writes read back
# (tests/cluster/README.md).

psql_in() { # psql_in DATABASE SQL, in the PostgreSQL task
    task_exec_i postgres env PGOPTIONS=--client-min-messages=warning \
        psql -U postgres -d "$1" -Atq -v ON_ERROR_STOP=1 -c "$2"
}
checksum() { # checksum DATABASE TABLE: row count and a digest of every row
    psql_in "$1" "SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '-') FROM $2 t"
}

stack_checks_under_load() {

    # --- 8. a bad release -----------------------------------------------------------------------
    # gateway:bad never becomes healthy, follow-service:bad exits at once; the other two
    # (and the backup image) are build b under a new tag, so the deploy changes them too.
    # Pushed like any release: the nodes pull them.
    for image in user-service message-service backup; do
        host_docker tag "minitwit-test/$image:b" "minitwit-test/$image:bad"
    done
    printf 'FROM minitwit-test/gateway:b\nENTRYPOINT ["sleep", "infinity"]\n' \
        | on_host docker_build -q -t minitwit-test/gateway:bad - >/dev/null
    printf 'FROM minitwit-test/follow-service:b\nENTRYPOINT ["/bin/sh", "-c", "echo bad release >&2; exit 3"]\n' \
        | on_host docker_build -q -t minitwit-test/follow-service:bad - >/dev/null
    on_host "$root/deploy/scripts/push.sh" \
        --registry "$CLUSTER_REGISTRY" --source minitwit-test --tag bad >>"$CLUSTER_STATE/push.log"
    window_begin
    t0=$SECONDS
    deploy_status=0
    deploy_release bad "$out/deploy-bad.json" >"$out/deploy-bad.log" 2>&1 || deploy_status=$?
    deploy_s=$((SECONDS - t0))
    rollback_status=0
    "$root/deploy/scripts/rollback.sh" --record "$out/deploy-bad.json" --timeout 300 "$STACK" \
        >"$out/rollback-bad.log" 2>&1 || rollback_status=$?
    rollback_s=$((SECONDS - t0 - deploy_s))
    sleep 5
    window_end
    running="$(for s in "${APP[@]}"; do
        on "$MANAGER" service inspect --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}' "${STACK}_$s"; done \
        | sed 's#.*/##; s#@.*##' | tr '\n' ' ')"
    if [ "$deploy_status" = 1 ] && [ "$rollback_status" = 0 ] && ! grep -q ':bad' <<<"$running" && few_503s; then
        result "8 bad release rolls back" OK "deploy.sh exit $deploy_status after ${deploy_s} s, rollback.sh ${rollback_s} s; running: $running; $(failures)"
    else
        result "8 bad release rolls back" FAIL "deploy.sh exit $deploy_status after ${deploy_s} s, rollback.sh exit $rollback_status; running: $running; $(failures)"
    fi
    converge 180 >/dev/null || true

    # --- 9. kill one replica of each app service --------------------------------------------------
    window_begin
    for s in "${APP[@]}"; do
        node="$(node_of_task "$s")"
        on "$node" kill "$(task_container "$node" "$s")" >/dev/null
    done
    # swarm notices the dead tasks within a few seconds; until then nothing is missing
    sleep 5
    t0=$SECONDS
    replaced_s=""
    while [ $((SECONDS - t0)) -lt 120 ]; do
        if settled; then replaced_s="$((5 + SECONDS - t0))"; break; fi
        sleep 1
    done
    sleep 10
    window_end
    if [ -n "$replaced_s" ]; then
        result "9 kill one replica of each app service" OK "replaced in ${replaced_s} s; $(failures)"
    else
        result "9 kill one replica of each app service" FAIL "not replaced within 125 s; $(failures)"
    fi

    # --- 10. restart PostgreSQL -----------------------------------------------------------------
    # PostgreSQL's own downtime, as a client on the backend network sees it: pg_isready
    # (1 s time-out) every 0.1 s from the backup task, from the first refusal to the
    # first answer after it. Target: the error window at most 1 s longer (issue 11's).
    # Required: the errors stop; every acknowledged tweet is read back at the end.
    # shellcheck disable=SC2016 # expanded inside the container
    task_exec backup sh -c 'down=0; end=$(($(date +%s) + 170))
        while [ "$(date +%s)" -lt "$end" ]; do
            if pg_isready -q -t 1; then echo "$(date +%s.%N) up"; [ "$down" = 1 ] && exit 0
            else echo "$(date +%s.%N) down"; down=1; fi
            sleep 0.1
        done' >"$out/pg-probe.log" 2>&1 &
    probe=$!
    sleep 1
    window_begin
    since="$(date +%s)"
    on "$MANAGER" service update --force --detach "${STACK}_postgres" >/dev/null
    pg_s="$(converge 180 "$since")" || pg_s="over 180"
    sleep 15
    window_end
    wait "$probe" || true
    pg_down="$(awk '$2 == "down" && !d { d = $1 } $2 == "up" && d { printf "%.2f", $1 - d; exit }' "$out/pg-probe.log")"
    errors_span="$(errors | jq -s --argjson a "$window_start" 'map(select(.at >= $a)) | if length > 0 then (max_by(.at).at - min_by(.at).at | . * 100 | round / 100) else 0 end')"
    last_error_ago="$(errors | jq -s 'if length > 0 then (now - max_by(.at).at | floor) else 999 end')"
    if [ -n "$pg_down" ]; then
        met="$(jq -rn --argjson w "$errors_span" --argjson d "$pg_down" 'if $w <= $d + 1 then "met" else "missed" end')"
        target="PostgreSQL down ${pg_down} s, error window ${errors_span} s, target <= $(awk -v d="$pg_down" 'BEGIN { printf "%.2f", d + 1 }') s: $met"
    else
        target="PostgreSQL's downtime not measured: $(tail -1 "$out/pg-probe.log" 2>/dev/null)"
    fi
    if [ "$last_error_ago" -ge 10 ]; then
        result "10 PostgreSQL restart" OK "converged in ${pg_s} s; $target; $(failures)"
    else
        result "10 PostgreSQL restart" FAIL "converged in ${pg_s} s; $target; errors did not stop ($last_error_ago s ago); $(failures)"
    fi
}

stack_checks_after_load() {
    # --- 14. every dashboard panel and rule against the stack's own Prometheus ------------------
    # tests/observability/check.py's promql phase (obs/promql.py; check.py needs its package
    # tests/observability/obs/ next to it), as tests/observability.sh runs it against a
    # local Prometheus, here run in the Prometheus task (its stand-in has python3) right after
    # the load: each expression parses and returns data, every metric and label value it names
    # exists; the exceptions by name in tests/observability/no-data-ok-stack.txt.
    # The backup panels need the db node's start-up backup recorded (after check 6 of the
    # full run the db node is a new one, whose backup runs once PostgreSQL answers there).
    for _ in $(seq 1 90); do
        [ "$(prom 'minitwit_backup_last_success_timestamp_seconds > 0' 2>/dev/null | jq length 2>/dev/null)" -ge 1 ] 2>/dev/null && break
        sleep 2
    done
    (cd "$root" && tar cf - --exclude=__pycache__ tests/observability/check.py tests/observability/obs \
        tests/observability/no-data-ok-stack.txt deploy/grafana/dashboards deploy/prometheus/alerts.yml \
        deploy/prometheus/prometheus.yml deploy/alloy/config.alloy) |
        task_exec_i prometheus sh -c 'rm -rf /tmp/obs && mkdir -p /tmp/obs && tar xf - -C /tmp/obs' || true
    if task_exec prometheus env OBS_PHASES=promql OBS_REPO=/tmp/obs OBS_PROMETHEUS=http://127.0.0.1:9090 \
        OBS_ALLOW_LIST=/tmp/obs/tests/observability/no-data-ok-stack.txt \
        python3 /tmp/obs/tests/observability/check.py >"$out/dashboards.log" 2>&1; then
        result "14 dashboards on the stack's Prometheus" OK "$(tail -n 1 "$out/dashboards.log"): every panel and rule of $(grep -o '[0-9]* panel expressions, [0-9]* rule expressions' "$out/dashboards.log")"
    else
        result "14 dashboards on the stack's Prometheus" FAIL "$(grep -m 5 'FAIL' "$out/dashboards.log" | tr '\n' ' ' | cut -c1-600)"
    fi

    # --- 11. backup and restore -------------------------------------------------------------------
    # No load: the restored copies are compared with the live tables, which must not move.
    t0=$SECONDS
    backup_ok=OK
    task_exec backup backup.sh --once >"$out/backup.log" 2>&1 || backup_ok=FAIL
    same=0
    details=""
    for db in users messages follows; do
        task_exec backup restore.sh --date latest --into "${db}_restored" "$db" >>"$out/restore.log" 2>&1 || backup_ok=FAIL
        live="$(checksum "$db" "$db")"
        restored="$(checksum "${db}_restored" "$db" 2>/dev/null || echo missing)"
        [ "$live" = "$restored" ] && same=$((same + 1))
        details="$details $db ${live%% *} rows;"
        psql_in postgres "DROP DATABASE IF EXISTS ${db}_restored" >/dev/null || true
    done
    # The dumps left the db node: today's folder in the S3 peer's bucket.
    dumps="$(curl -fsS --cacert "$CLUSTER_PKI/ca.pem" \
        "https://$HOST_IP:$S3_PEER_PORT/$S3_PEER_BUCKET?list-type=2&prefix=minitwit/$(date -u +%F)/" \
        | grep -o '<Key>[^<]*\.dump</Key>' | wc -l)"
    figures="backup to S3 and 3 restores from it in $((SECONDS - t0)) s; $dumps dumps in the bucket today;$details $same of 3 identical"
    if [ "$backup_ok" = OK ] && [ "$same" = 3 ] && [ "$dumps" -ge 3 ]; then
        result "11 backup and restore" OK "$figures"
    else
        result "11 backup and restore" FAIL "$figures ($(tail -q -n 2 "$out/backup.log" "$out/restore.log" | tr '\n' ' '))"
    fi

    # --- 12. gateway down: the alert mail, through a relay that insists on STARTTLS and AUTH ---------------------------------------------------------
    t0=$SECONDS
    on "$MANAGER" service scale --detach "${STACK}_gateway=0" >/dev/null
    alerted=""
    mailed=""
    while [ $((SECONDS - t0)) -lt 330 ]; do
        if [ -z "$alerted" ] && task_exec alertmanager wget -qO- http://127.0.0.1:9093/api/v2/alerts 2>/dev/null \
            | jq -e 'any(.[]; .labels.alertname == "MinitwitServiceDown" and .labels.job == "gateway")' >/dev/null; then
            alerted=$((SECONDS - t0))
        fi
        # (into a file first: grep -q ends the pipe early, and under pipefail the logs
        # command's SIGPIPE made the match a failure once the relay had logged enough)
        on "$MANAGER" service logs --raw "${STACK}_mailsink" >"$out/mailsink.log" 2>/dev/null || true
        if grep -q 'MinitwitServiceDown' "$out/mailsink.log"; then
            mailed=$((SECONDS - t0))
            break
        fi
        sleep 5
    done
    on "$MANAGER" service scale --detach "${STACK}_gateway=2" >/dev/null
    on "$MANAGER" service logs --raw "${STACK}_mailsink" >"$out/mailsink.log" 2>/dev/null || true
    mail_line="$(grep -m1 'MinitwitServiceDown' "$out/mailsink.log" || true)"
    # The relay insists, as a real one: no mail before STARTTLS (530), no wrong password (535).
    refusals="$(task_exec alertmanager python3 -c '
import base64, smtplib, ssl
s = smtplib.SMTP("mailsink", 2525, timeout=10)
before_tls = s.docmd("MAIL", "FROM:<probe@localhost>")[0]
s.starttls(context=ssl._create_unverified_context())
s.ehlo()
wrong = s.docmd("AUTH", "PLAIN " + base64.b64encode(b"\0alerts@localhost\0wrong").decode())[0]
print(before_tls, wrong)' 2>&1 || true)"
    heartbeats="$(grep -c 'HEARTBEAT .*alerts=.*MinitwitWatchdog' "$out/mailsink.log" || true)"
    if [ -n "$alerted" ] && [ -n "$mailed" ] && [[ "$mail_line" == *"tls=on auth=alerts@localhost"* ]] \
        && [ "$refusals" = "530 535" ] && [ "$heartbeats" -ge 1 ]; then
        result "12 gateway at 0: alert mail" OK "in Alertmanager after ${alerted} s, mailed through STARTTLS and AUTH after ${mailed} s (rule: for 2m); the relay refused mail before STARTTLS and a wrong password ($refusals); $heartbeats dead man's switch heartbeats: $mail_line"
    else
        result "12 gateway at 0: alert mail" FAIL "Alertmanager: ${alerted:-no alert}, mail: ${mailed:-none} within 330 s: '${mail_line:-none}'; refusals '$refusals' (want 530 535); heartbeats ${heartbeats:-0}; alertmanager: $(on "$MANAGER" service logs --tail 3 "${STACK}_alertmanager" 2>&1 | tr '\n' ' ')"
    fi
    t0=$SECONDS
    while [ $((SECONDS - t0)) -lt 120 ] && ! settled; do sleep 2; done

    # --- 13. the entrypoints' error paths (plain containers on this machine's engine) ---------------
    if on_host "$root/tests/swarm/entrypoints.sh" \
        >"$out/entrypoints.log" 2>&1; then
        result "13 entrypoint error paths" OK "$(grep -c '^OK' "$out/entrypoints.log") cases: postgres init retried, postgres TLS secret without a key, nginx without a certificate, a bad alertmanager setting"
    else
        result "13 entrypoint error paths" FAIL "$(grep -v '^OK' "$out/entrypoints.log" | tr '\n' ' ')"
    fi

    stack_check_internal_tls
    stack_check_postgres_tls
    stack_check_certificate
}

# --- 17. PostgreSQL only over TLS ------------------------------------------------------------------
# From the backup task, on the overlay as any container there: a plain-text connection is
# refused by the hba file (before any password is sent); one with the stack's settings
# (PGSSLMODE=verify-full against the internal CA, for the name postgres) is served over
# TLS. And every connection of the three services is a TLS one.
stack_check_postgres_tls() {
    local plain tls services
    # shellcheck disable=SC2016 # expanded in the container
    plain="$(task_exec backup sh -c 'PGPASSWORD="$(cat "$PGPASSWORD_FILE")" PGSSLMODE=disable \
        psql -d postgres -Atc "SELECT 1"' 2>&1 || true)"
    # shellcheck disable=SC2016
    tls="$(task_exec backup sh -c 'PGPASSWORD="$(cat "$PGPASSWORD_FILE")" \
        psql -d postgres -Atc "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"' 2>&1 || true)"
    services="$(psql_in postgres "SELECT count(*) FILTER (WHERE s.ssl) || ' ' || count(*)
        FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.usename LIKE 'minitwit_%'" 2>&1 || true)"
    read -r tls_conns all_conns <<<"$services"
    figures="plain text: '$(tr '\n' ' ' <<<"$plain" | cut -c1-160)'; verify-full: '$tls'; the services' connections over TLS: ${tls_conns:-?} of ${all_conns:-?}"
    if [[ "$plain" == *"no encryption"* ]] && [ "$tls" = t ] && [ "${all_conns:-0}" -ge 3 ] 2>/dev/null \
        && [ "$tls_conns" = "$all_conns" ]; then
        result "17 PostgreSQL only over TLS" OK "$figures"
    else
        result "17 PostgreSQL only over TLS" FAIL "$figures"
    fi
}

# --- 16. the services only over mutual TLS --------------------------------------------------------
# From a gateway task, on the overlay network as any container there: each service
# answers a caller showing the gateway's certificate (the stack's secrets, made by
# make-secrets.sh through internal-tls.sh), and refuses one without a certificate and
# plain HTTP; its plain health port (loopback only) cannot be reached. Prometheus
# scrapes every replica over https with its own certificate.
stack_check_internal_tls() {
    local svc port probe summary="" bad=""
    for svc in user-service:8081:9081 message-service:8082:9082 follow-service:8083:9083; do
        IFS=: read -r svc port probe <<<"$svc"
        # one exec per service: each curl prints its HTTP status (000: no answer)
        # shellcheck disable=SC2016 # expanded in the container
        answers="$(task_exec gateway sh -c '
            s="$1"; p="$2"; h="$3"; ca=/run/secrets/internal_ca
            c() { curl -s -o /dev/null -w "%{http_code}" --max-time 5 "$@" || true; }
            printf "%s %s %s %s\n" \
                "$(c --cacert "$ca" --cert /run/secrets/gateway_tls "https://$s:$p/health")" \
                "$(c --cacert "$ca" "https://$s:$p/health")" \
                "$(c "http://$s:$p/health")" \
                "$(c "http://$s:$h/health")"' sh "$svc" "$port" "$probe" 2>&1 || true)"
        summary="$summary $svc: $answers;"
        [ "$answers" = "200 000 000 000" ] || bad="$bad $svc"
    done
    scrapes="$(task_exec prometheus wget -qO- http://127.0.0.1:9090/api/v1/targets 2>/dev/null | jq -r '
        [.data.activeTargets[] | select(.labels.job | test("^(user|message|follow)-service$"))]
        | "\(length) \(map(select(.health == "up" and (.scrapeUrl | startswith("https://")))) | length)"' 2>/dev/null || echo "0 0")"
    read -r targets tls_up <<<"$scrapes"
    figures="gateway certificate / none / plain HTTP / plain health port from the network:$summary Prometheus: $tls_up of $targets service targets up over https"
    if [ -z "$bad" ] && [ "$targets" -ge 3 ] && [ "$tls_up" = "$targets" ]; then
        result "16 services only over mutual TLS" OK "$figures"
    else
        result "16 services only over mutual TLS" FAIL "want 200 000 000 000 for each;$bad: $figures"
    fi
}

# --- 15. a certificate from an ACME CA, through the stack's own certbot and nginx -----------------
# pebble on this machine (as Let's Encrypt is outside the swarm), its DNS answering the
# edge node's address for every name. The certbot service is pointed at it with the
# settings an operator has (ACME_SERVER, ACME_CA_FILE; DOMAINS for a name pebble
# issues for), as a deploy would: it asks, pebble validates HTTP-01 through nginx's port
# 80 on the edge node, the certificate lands in the volume nginx reads, nginx reloads,
# and the stack's blackbox probe reports its expiry. Then certbot is rolled back and the
# test certificate put back, for the checks after this one.
stack_check_certificate() {
    local acme_port=14000 acme_dir dns_port dns_mgmt acme_mgmt edge="${NODE_IP[manager2]}" t0 issued="" probed=""
    need_pkg pebble pebble pebble-challtestsrv pebble
    read -r dns_port dns_mgmt acme_mgmt <<<"$(free_ports 3)"
    acme_dir="$CLUSTER_STATE/acme"
    mkdir -p "$acme_dir"
    test_cert "$CLUSTER_PKI" "acme-$HOST_IP" "IP:$HOST_IP" serverAuth
    acme_dns "127.0.0.1:$dns_port" "127.0.0.1:$dns_mgmt" "$edge" "$acme_dir/dns.log"
    echo "$ACME_DNS_PID" >"$acme_dir/pids"
    local status=0
    CURL_CA_BUNDLE="$CLUSTER_PKI/ca.pem" acme_ca "$acme_dir" cluster "$HOST_IP" "$acme_port" "$acme_mgmt" 80 \
        "127.0.0.1:$dns_port" "$CLUSTER_PKI/acme-$HOST_IP.pem" "$CLUSTER_PKI/acme-$HOST_IP-key.pem" $((90 * 86400)) || status=$?
    echo "$ACME_CA_PID" >>"$acme_dir/pids"
    if [ "$status" -ne 0 ]; then
        result "15 certificate from an ACME CA" FAIL "pebble did not start: $(tail -n 3 "$acme_dir/pebble-cluster.log" | tr '\n' ' ')"
        acme_peer_stop
        return
    fi
    local test_ca
    test_ca="$(on "$MANAGER" config ls --format '{{.Name}}' | grep -m1 '^minitwit_test_ca_')"
    t0=$SECONDS
    on "$MANAGER" service update --detach --env-add DOMAINS=minitwit.test \
        --env-add "ACME_SERVER=https://$HOST_IP:$acme_port/dir" --env-add ACME_CA_FILE=/etc/minitwit/test-ca.pem \
        --env-add ACME_RETRY_SECONDS=5 --config-add "source=$test_ca,target=/etc/minitwit/test-ca.pem" \
        "${STACK}_certbot" >/dev/null
    while [ $((SECONDS - t0)) -lt 180 ]; do
        if openssl s_client -connect "$edge:443" -servername minitwit.test -verify_hostname minitwit.test \
            -CAfile "$acme_dir/root-cluster.pem" -verify_return_error </dev/null >/dev/null 2>&1; then
            issued=$((SECONDS - t0))
            break
        fi
        sleep 2
    done
    # the stack's probe of nginx sees it: about 90 days left, not the test certificate's 30
    while [ -n "$issued" ] && [ $((SECONDS - t0)) -lt 240 ]; do
        if [ "$(prom 'probe_ssl_earliest_cert_expiry{job="tls-certificate"} - time() > 80 * 86400' 2>/dev/null | jq length 2>/dev/null)" -ge 1 ] 2>/dev/null; then
            probed=$((SECONDS - t0))
            break
        fi
        sleep 3
    done
    local validated
    validated="$(grep -c 'Attempting to validate w/ HTTP' "$acme_dir/pebble-cluster.log" || true)"
    # put the test certificate back for what follows
    on "$MANAGER" service rollback --detach "${STACK}_certbot" >/dev/null 2>&1 || true
    (use_node manager2 && tls_volume "$CLUSTER_REGISTRY/nginx:standin" "$CLUSTER_PKI")
    local back=""
    for _ in $(seq 1 30); do
        if curl -fs -o /dev/null --max-time 5 --cacert "$MINITWIT_SIM_CA_CERT" "$url/public"; then back=yes; break; fi
        sleep 2
    done
    acme_peer_stop
    if [ -n "$issued" ] && [ -n "$probed" ] && [ -n "$back" ]; then
        result "15 certificate from an ACME CA" OK "pebble issued through HTTP-01 on the edge node and nginx served it ${issued} s after certbot was pointed at it ($validated validations); the stack's blackbox probe saw its expiry after ${probed} s; the test certificate back afterwards"
    else
        result "15 certificate from an ACME CA" FAIL "served: ${issued:-no} within 180 s, probed: ${probed:-no}, test certificate back: ${back:-no}; certbot: $(on "$MANAGER" service logs --tail 4 "${STACK}_certbot" 2>&1 | tr '\n' ' ' | cut -c1-400); pebble: $(grep -m2 -i 'error\|invalid' "$acme_dir/pebble-cluster.log" | tr '\n' ' ' | cut -c1-300)"
    fi
}
