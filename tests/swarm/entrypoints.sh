#!/usr/bin/env bash
# The error paths of the stack's own entrypoint scripts, each in a plain container
# of the image the tests deploy (no swarm needed; images.sh must have run),
# mounted where docker-stack.yml mounts it:
#   - deploy/postgres/entrypoint.sh: a first start whose databases cannot be created
#     (a URL secret missing) fails, and the next start on the same data creates them;
#     a TLS secret without a key stops the start, saying so;
#   - deploy/nginx/entrypoint.sh: no certificate within TLS_WAIT_SECONDS is a failure;
#   - deploy/alertmanager/entrypoint.sh: ALERT_SMTP_REQUIRE_TLS other than true or
#     false is refused.
# Prints one line per case and ends "N passed, N failed"; exits 1 on any failure.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/swarm/lib.sh
. "$here/lib.sh"
deploy="$SWARM_ROOT/deploy"

work="$(mktemp -d)"
volume="minitwit-entrypoints-$$"
container="minitwit-entrypoints-pg-$$"
cleanup() {
    docker rm -f "$container" >/dev/null 2>&1 || true
    docker volume rm "$volume" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

passed=0
failed=0
case_result() { # case_result NAME OK|FAIL DETAIL
    if [ "$2" = OK ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
    printf '%-4s %s: %s\n' "$2" "$1" "$3"
}

# --- PostgreSQL: a failed first start is repaired by the next -----------------------
secrets="$work/secrets"
mkdir -p "$secrets"
printf 'pw-%s' "$$" >"$secrets/postgres_password"
printf 'postgres://minitwit_users:u%s@postgres:5432/users' "$$" >"$secrets/user_db_url"
printf 'postgres://minitwit_messages:m%s@postgres:5432/messages' "$$" >"$secrets/message_db_url"
# follow_db_url is missing on the first start
chmod 0644 "$secrets"/*
postgres() { # postgres DOCKER-RUN-OPTIONS...: the stand-in as the stack runs it
    docker run "$@" -v "$volume:/var/lib/postgresql/data" -v "$secrets:/run/secrets:ro" \
        -v "$deploy/postgres/entrypoint.sh:/usr/local/bin/minitwit-postgres.sh:ro" \
        -v "$deploy/postgres/init-databases.sh:/usr/local/bin/minitwit-init-databases.sh:ro" \
        -e POSTGRES_PASSWORD_FILE=/run/secrets/postgres_password \
        --entrypoint /bin/sh minitwit-test/postgres:standin /usr/local/bin/minitwit-postgres.sh postgres
}
postgres -d --name "$container" >/dev/null
first="$(timeout 120 docker wait "$container" || echo "still running after 120 s")"
docker logs "$container" >"$work/first.log" 2>&1
docker rm -f "$container" >/dev/null
printf 'postgres://minitwit_follows:f%s@postgres:5432/follows' "$$" >"$secrets/follow_db_url"
chmod 0644 "$secrets/follow_db_url"
postgres -d --name "$container" >/dev/null
databases=""
for _ in $(seq 1 60); do
    databases="$(docker exec "$container" psql -U postgres -Atc \
        "SELECT string_agg(datname, ' ' ORDER BY datname) FROM pg_database WHERE datname IN ('users', 'messages', 'follows')" \
        2>/dev/null || true)"
    [ "$databases" = "follows messages users" ] && break
    sleep 1
done
if [ "$first" = 1 ] && grep -q 'follow_db_url is missing' "$work/first.log" \
    && [ "$databases" = "follows messages users" ]; then
    case_result "postgres init retried" OK "first start exit 1 (follow_db_url missing), the next created: $databases"
else
    case_result "postgres init retried" FAIL "first start exit $first ($(tail -n 2 "$work/first.log" | tr '\n' ' ')); then: '${databases}'"
fi

# --- PostgreSQL: a TLS secret without a key ----------------------------------------------
printf -- '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' >"$secrets/postgres_tls"
chmod 0644 "$secrets/postgres_tls"
status=0
timeout 60 docker run --rm -v "$secrets:/run/secrets:ro" \
    -v "$deploy/postgres/entrypoint.sh:/usr/local/bin/minitwit-postgres.sh:ro" \
    -e POSTGRES_PASSWORD_FILE=/run/secrets/postgres_password -e POSTGRES_TLS_FILE=/run/secrets/postgres_tls \
    --entrypoint /bin/sh minitwit-test/postgres:standin /usr/local/bin/minitwit-postgres.sh postgres \
    >"$work/postgres-tls.log" 2>&1 || status=$?
if [ "$status" = 1 ] && grep -q 'holds no key and certificate' "$work/postgres-tls.log"; then
    case_result "postgres TLS secret without a key" OK "exit 1: $(head -n 1 "$work/postgres-tls.log")"
else
    case_result "postgres TLS secret without a key" FAIL "exit $status: $(tail -n 2 "$work/postgres-tls.log" | tr '\n' ' ')"
fi

# --- nginx: no certificate in time ----------------------------------------------------
status=0
timeout 60 docker run --rm -e TLS_WAIT_SECONDS=2 \
    -v "$deploy/nginx/entrypoint.sh:/usr/local/bin/minitwit-nginx.sh:ro" \
    --entrypoint /bin/sh minitwit-test/nginx:standin /usr/local/bin/minitwit-nginx.sh \
    >"$work/nginx.log" 2>&1 || status=$?
if [ "$status" = 1 ] && grep -q 'no TLS certificate' "$work/nginx.log"; then
    case_result "nginx without a certificate" OK "exit 1: $(head -n 1 "$work/nginx.log")"
else
    case_result "nginx without a certificate" FAIL "exit $status: $(tail -n 2 "$work/nginx.log" | tr '\n' ' ')"
fi

# --- Alertmanager: a bad ALERT_SMTP_REQUIRE_TLS ------------------------------------------
status=0
timeout 60 docker run --rm -e ALERT_SMTP_REQUIRE_TLS=maybe \
    -v "$deploy/alertmanager/entrypoint.sh:/usr/local/bin/minitwit-alertmanager.sh:ro" \
    -v "$deploy/alertmanager/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro" \
    --entrypoint /bin/sh minitwit-test/alertmanager:standin /usr/local/bin/minitwit-alertmanager.sh \
    >"$work/alertmanager.log" 2>&1 || status=$?
if [ "$status" = 1 ] && grep -q 'ALERT_SMTP_REQUIRE_TLS must be true or false' "$work/alertmanager.log"; then
    case_result "alertmanager refuses ALERT_SMTP_REQUIRE_TLS=maybe" OK "exit 1"
else
    case_result "alertmanager refuses ALERT_SMTP_REQUIRE_TLS=maybe" FAIL "exit $status: $(tail -n 2 "$work/alertmanager.log" | tr '\n' ' ')"
fi

printf '%d passed, %d failed\n' "$passed" "$failed"
[ "$failed" = 0 ]
