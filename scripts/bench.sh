#!/usr/bin/env bash
# `make bench`: measures the whole MiniTwit (gateway + three services) on this machine and
# prints one table; BENCHMARKS.md explains the figures.
#
# Builds in release mode (or takes the binaries in $BIN_DIR), starts the four processes on
# the local PostgreSQL (fresh databases, dropped at the end; scripts/postgres.sh finds or
# starts the server), seeds a data set straight into the databases (`minitwit-sim seed`),
# then measures:
#   - the highest open-loop rate of the simulator mix held with p99 < 100 ms and no errors
#     (`minitwit-sim load`, stepping the rate up), and the same rate without `latest`;
#   - p50/p99 at a fixed 1,250 requests per second, and each process's CPU share there;
#   - a faithful replay of a generated scenario (one action at a time, a fresh connection
#     each, the scenario's delays, the course's 0.3 s time-out);
#   - "my timeline" (GET / of the web UI) of a user following 500 others, at 100 k messages
#     (and at 10 M with BENCH_LARGE=1);
#   - each process's peak resident memory (VmHWM);
#   - the ceiling: the same SQL a request of the mix needs, run by pgbench straight against
#     PostgreSQL at 2 and 16 clients, with and without a `latest` upsert per request.
# Then a shorter run of the same on the SQLite default.
#
# Environment:
#   BIN_DIR=dir          use the binaries in dir instead of `cargo build --release --bins`
#   BENCH_QUICK=1        shorter steps, a 5,000-action replay, fewer timeline requests
#   BENCH_LARGE=1        also "my timeline" at 10 M messages (seeding takes minutes)
#   BENCH_SMOKE=1        every step once, for seconds, on a tiny data set: whether the
#                        bench still runs (a suite of make test); its figures mean nothing
#                        (the baseline's steps run this build unless BENCH_BASELINE is set)
#   BENCH_SQLITE=0       skip the SQLite run;  BENCH_PGBENCH=0  skip pgbench
#   BENCH_TLS=0          skip the run with mutual TLS between the gateway and the services
#   BENCH_RATES="..."    the load steps (default 500 1000 ... 6000; stops at the first miss)
#   BENCH_STEP_SECS=N    seconds per load step (default 15, quick 8)
#   BENCH_PORT=N         first of the four ports used (default 18080)
#   BENCH_OUT=dir        keep the raw JSON results and the logs there
#   BENCH_SVG=file       also write the figure (p50/p99 against the offered rate) there
#   BENCH_BASELINE=dir   also run the binaries of another build (gateway and services) on
#                        fresh PostgreSQL databases after this build's run: load steps and
#                        the fixed rate's CPU per request, side by side (issue 22 compares
#                        with 75ff8b3); BENCH_BASELINE_NAME=text names it (default: dir)
# Needs curl, jq, psql and pgbench (installed with apt-get when missing). Timings are of this machine at this moment: other
# work on it shows in them. Nothing here asserts a timing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

quick=${BENCH_QUICK:-0}
smoke=${BENCH_SMOKE:-0}
large=${BENCH_LARGE:-0}
do_sqlite=${BENCH_SQLITE:-1}
do_pgbench=${BENCH_PGBENCH:-1}
do_tls=${BENCH_TLS:-1}
rates=${BENCH_RATES:-"500 1000 1500 2000 2500 3000 3500 4000 4500 5000 5500 6000"}
fixed_rate=1250
p99_limit_ms=100
followees=500
seed_users=10000
seed_follows=100000
pg_messages=100000
sqlite_replay=5000
# How long each step runs and how much data: the full bench, BENCH_QUICK, BENCH_SMOKE.
if [ "$smoke" = 1 ]; then
  step_secs=${BENCH_STEP_SECS:-2} fixed_secs=3 replay_actions=300 timeline_requests=20
  rates=${BENCH_RATES:-"500 1000"} followees=100 seed_users=1000 seed_follows=5000
  pg_messages=5000 sqlite_replay=300
elif [ "$quick" = 1 ]; then
  step_secs=${BENCH_STEP_SECS:-8} fixed_secs=15 replay_actions=5000 timeline_requests=200
else
  step_secs=${BENCH_STEP_SECS:-15} fixed_secs=30 replay_actions=25000 timeline_requests=500
fi

# (pgbench comes with Debian's PostgreSQL server package, not its client)
# shellcheck source=tests/lib/apt.sh
. tests/lib/apt.sh
need_pkg curl curl jq jq psql postgresql-client pgbench postgresql
# shellcheck source=tests/lib/ready.sh
. tests/lib/ready.sh
# shellcheck source=tests/lib/sim_summary.sh
. tests/lib/sim_summary.sh
for tool in curl jq psql pgbench; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is required" >&2; exit 2; }
done

# --- Binaries -------------------------------------------------------------------------
if [ -z "${BIN_DIR:-}" ]; then
  cargo build --release --bins
  BIN_DIR=$root/target/release
fi
for b in gateway user-service message-service follow-service minitwit-sim; do
  [ -x "$BIN_DIR/$b" ] || { echo "bench: $BIN_DIR/$b is missing" >&2; exit 2; }
done
baseline=${BENCH_BASELINE:-}
# The smoke runs every step, the baseline's too: with this build when none is given.
[ "$smoke" = 0 ] || baseline=${baseline:-$BIN_DIR}
baseline_name=${BENCH_BASELINE_NAME:-$baseline}
for b in gateway user-service message-service follow-service; do
  [ -z "$baseline" ] || [ -x "$baseline/$b" ] || { echo "bench: $baseline/$b is missing" >&2; exit 2; }
done
# The build whose processes start_system starts: this one, or the baseline for its run.
bins=$BIN_DIR
sim=$BIN_DIR/minitwit-sim

# --- Scratch space, clean-up ----------------------------------------------------------
if [ -n "${BENCH_OUT:-}" ]; then
  out=$BENCH_OUT
  mkdir -p "$out"
else
  out=$(mktemp -d /tmp/minitwit-bench.XXXXXX)
fi
tag="mt_bench_$$"
declare -A pid=()
databases=()
admin_url=""

# shellcheck source=scripts/postgres.sh
. scripts/postgres.sh

stop_system() {
  local p
  for p in "${pid[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pid[@]}"; do wait "$p" 2>/dev/null || true; done
  pid=()
}

cleanup() {
  trap - EXIT INT TERM
  stop_system
  local db
  for db in "${databases[@]}"; do
    psql "$admin_url" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done
  minitwit_pg_stop
  [ -n "${BENCH_OUT:-}" ] || rm -rf "$out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "bench: $*" >&2; }

# --- PostgreSQL ---------------------------------------------------------------------
minitwit_pg_start >&2
admin_url=$MINITWIT_TEST_DATABASE_URL
server_url=${admin_url%/*}
# The settings the PostgreSQL figures depend on most, printed with the table.
pg_settings=$(psql "$admin_url" -Atc "SELECT 'PostgreSQL ' || current_setting('server_version') ||
  ': fsync ' || current_setting('fsync') || ', synchronous_commit ' || current_setting('synchronous_commit') ||
  ', shared_buffers ' || current_setting('shared_buffers')")

create_db() {
  psql "$admin_url" -qc "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null
  psql "$admin_url" -qc "CREATE DATABASE $1" >/dev/null
  databases+=("$1")
}

# --- Ports, processes -------------------------------------------------------------------
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
base_port=${BENCH_PORT:-18080}
while port_open "$base_port" || port_open $((base_port + 1)) || port_open $((base_port + 2)) ||
  port_open $((base_port + 3)); do
  base_port=$((base_port + 10))
done
gw_port=$base_port
gw=http://127.0.0.1:$gw_port
services=(gateway user-service message-service follow-service)

# start_system <label> <users-db> <messages-db> <follows-db> [tls]: the four processes,
# JSON logs at warning level into $out/<label>-<process>.log; with tls, the gateway
# calls the services over mutual TLS, as in the stack, with certificates that
# deploy/scripts/internal-tls.sh made in $out/tls.
start_system() {
  local label=$1 i=0 s prefix tls=${5:-} scheme=http host=127.0.0.1
  local -a extra=() ready=()
  export USER_SERVICE_DATABASE__URL=$2 MESSAGE_SERVICE_DATABASE__URL=$3 FOLLOW_SERVICE_DATABASE__URL=$4
  if [ -n "$tls" ]; then
    [ -s "$out/tls/ca.pem" ] || INTERNAL_TLS_EXTRA_SAN=DNS:localhost deploy/scripts/internal-tls.sh init \
      --dir "$out/tls" >/dev/null
    scheme=https host=localhost
    ready=(--cacert "$out/tls/ca.pem" --cert "$out/tls/gateway.pem")
  fi
  export GATEWAY_SERVICES__USER_URL=$scheme://$host:$((base_port + 1))
  export GATEWAY_SERVICES__MESSAGE_URL=$scheme://$host:$((base_port + 2))
  export GATEWAY_SERVICES__FOLLOW_URL=$scheme://$host:$((base_port + 3))
  for s in "${services[@]}"; do
    prefix=$(echo "$s" | tr 'a-z-' 'A-Z_')
    extra=()
    if [ -n "$tls" ] && [ "$s" = gateway ]; then
      extra=("GATEWAY_SERVICES__TLS__CA_FILE=$out/tls/ca.pem" "GATEWAY_SERVICES__TLS__IDENTITY_FILE=$out/tls/gateway.pem")
    elif [ -n "$tls" ]; then
      extra=("${prefix}_HTTP__TLS__IDENTITY_FILE=$out/tls/$s.pem" "${prefix}_HTTP__TLS__CLIENT_CA_FILE=$out/tls/ca.pem")
    fi
    env "${prefix}_HTTP__PORT=$((base_port + i))" "${prefix}_LOG__LEVEL=warning" "${prefix}_LOG__FORMAT=json" \
      "${extra[@]}" "$bins/$s" >"$out/$label-$s.log" 2>&1 &
    pid[$s]=$!
    i=$((i + 1))
  done
  for s in "${services[@]}"; do
    local port=$((base_port + $(index_of "$s"))) url opts=("${ready[@]}")
    url="$scheme://$host:$port/ready"
    [ "$s" != gateway ] || url="http://127.0.0.1:$port/ready" opts=()
    wait_ready --pid "${pid[$s]}" "$url" 30 "${opts[@]}" ||
      { say "$s is not ready; see $out/$label-$s.log"; tail -5 "$out/$label-$s.log" >&2; exit 1; }
  done
}

index_of() {
  local i
  for i in "${!services[@]}"; do [ "${services[$i]}" = "$1" ] && echo "$i" && return; done
}

# Peak resident memory of a process, in MB; `reset_peaks` starts a new peak.
peak_mb() { awk '/^VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }
reset_peaks() {
  local s
  for s in "${services[@]}"; do echo 5 >"/proc/${pid[$s]}/clear_refs" 2>/dev/null || true; done
}
peaks() {
  local s line=""
  for s in "${services[@]}"; do line+="$(peak_mb "${pid[$s]}")/"; done
  echo "${line%/} MB"
}

# CPU seconds (user + system) of a process, of the PostgreSQL backends serving our
# databases, and of the whole machine's busy time.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
clk=$(getconf CLK_TCK)
pg_backends() {
  psql "$admin_url" -Atc "SELECT pid FROM pg_stat_activity WHERE datname LIKE '${tag}%'" 2>/dev/null || true
}
cpu_snapshot() { # prints "name ticks" lines
  local s p sum=0
  for s in "${services[@]}"; do echo "$s $(ticks "${pid[$s]}")"; done
  for p in $(pg_backends); do sum=$((sum + $(ticks "$p"))); done
  echo "postgres $sum"
  awk '/^cpu / { print "machine", $2 + $3 + $4 + $7 + $8 }' /proc/stat
}
# Thread switches (voluntary and not) so far, of every thread of each process and of each
# PostgreSQL backend: "name thread count" lines. Most of a request's CPU in the kernel is
# switching threads (BENCHMARKS.md), so this says where wake-ups go. Counted per thread
# because a thread that ends (tokio's idle blocking threads do after 10 s) takes its
# count with it: a sum over the threads alive would fall.
# (grep goes on past a thread or backend gone meanwhile; /dev/null keeps grep from
# reading standard input when given no file, and its "nothing found" is no error:
# SQLite's run has no PostgreSQL backends.)
switches() {
  local name=$1
  shift
  { grep -H ctxt_switches "$@" /dev/null 2>/dev/null || true; } |
    awk -F: -v n="$name" '{ s[$1] += $3 } END { for (f in s) print n, f, s[f] }'
}
switch_snapshot() {
  local s p files=()
  for s in "${services[@]}"; do switches "$s" /proc/"${pid[$s]}"/task/*/status; done
  for p in $(pg_backends); do files+=("/proc/$p/status"); done
  switches postgres "${files[@]}"
}
# switches_per_request <before-file> <after-file> <requests>: "gateway 2.7, ..." (of the
# threads alive at the end; what a thread that ended meanwhile switched is not counted)
switches_per_request() {
  awk -v n="$3" 'NR == FNR { before[$1 " " $2] = $3; next }
    !($1 in d) { names[++k] = $1 }
    { d[$1] += $3 - before[$1 " " $2] }
    END { for (i = 1; i <= k; i++) printf("%s%s %.1f", (i > 1 ? ", " : ""), names[i], d[names[i]] / n); print "" }' "$1" "$2"
}
# cpu_shares <before-file> <after-file> <seconds> <sim-cpu-seconds>: "gateway 41%, ..."
cpu_shares() {
  join "$1" "$2" | awk -v clk="$clk" -v secs="$3" -v simcpu="$4" '
    { name[NR] = $1; pct[NR] = ($3 - $2) / clk / secs * 100 }
    END {
      s = ""
      for (i = 1; i <= NR; i++) if (name[i] != "machine") s = s sprintf("%s %.0f%%, ", name[i], pct[i])
      s = s sprintf("load generator %.0f%%", simcpu / secs * 100)
      for (i = 1; i <= NR; i++) if (name[i] == "machine") s = s sprintf(" (machine busy %.0f%% of 200%%)", pct[i])
      print s
    }'
}

# --- Measurements ---------------------------------------------------------------------
# load_run <file> <rate> <seconds> [extra args]: one open-loop run, JSON into <file>;
# the load generator's own CPU seconds into <file>.cpu.
load_run() {
  local file=$1 rate=$2 secs=$3
  shift 3
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f '%U %S' -o "$file.time" \
      "$sim" load --url "$gw" --rate "$rate" --duration "${secs}s" --json "$@" >"$file"
    awk '{ print $1 + $2 }' "$file.time" >"$file.cpu"
  else
    "$sim" load --url "$gw" --rate "$rate" --duration "${secs}s" --json "$@" >"$file"
    echo 0 >"$file.cpu"
  fi
}
fmt_ms() { awk -v v="$1" 'BEGIN { if (v < 10) printf "%.1f", v; else printf "%.0f", v }'; }

# step_up <label> [extra args]: steps the rate up until p99 >= limit or an error; sets
# held_rate / held_p99 (0 / - when even the first step missed), held_peaks (memory peaks
# up to the held rate) and missed_rate.
step_up() {
  local label=$1 r f p99 errs
  shift
  held_rate=0 held_p99=- held_peaks=- missed_rate=""
  for r in $rates; do
    f=$out/$label-step-$r.json
    load_run "$f" "$r" "$step_secs" "$@"
    p99=$(p99_of "$f")
    errs=$(errors_of "$f")
    say "$label: $r req/s: p99 $(fmt_ms "$p99") ms, $errs errors, $(jq -r '.throughput_rps | floor' "$f") ok/s"
    if [ "$errs" -eq 0 ] && awk -v p="$p99" -v l="$p99_limit_ms" 'BEGIN { exit !(p < l) }'; then
      held_rate=$r held_p99=$(fmt_ms "$p99") held_peaks=$(peaks)
    else
      missed_rate=$r
      break
    fi
  done
}

# TCP connections this machine has accepted so far (TcpPassiveOpens of /proc/net/snmp:
# the services', the gateway's and PostgreSQL's together).
accepted() { awk '/^Tcp:/ { if (seen) print $7; seen = 1 }' /proc/net/snmp; }

# cpu_per_request <before-file> <after-file> <requests>: "<MiniTwit ms> <PostgreSQL ms>",
# the CPU milliseconds one request cost the gateway and services together, and the
# PostgreSQL backends serving them.
cpu_per_request() {
  join "$1" "$2" | awk -v clk="$clk" -v n="$3" '
    $1 == "postgres" { pg += $3 - $2; next }
    $1 != "machine" { mt += $3 - $2 }
    END { printf "%.3f %.3f", mt / clk / n * 1000, pg / clk / n * 1000 }'
}

# fixed <label> [load args]: p50/p99, CPU shares and new connections a second at the
# fixed rate; sets fixed_p50/fixed_p99/fixed_cpu/fixed_conns, fixed_ms ("<MiniTwit>
# <PostgreSQL>" CPU ms per request) and fixed_switches (thread switches per request of
# each process). Connections say how well the keep-alive pools keep
# theirs: each new one to a service is a handshake with mutual TLS.
fixed() {
  local label=$1 f=$out/$1-fixed.json accepted_before requests
  shift
  cpu_snapshot | sort >"$out/cpu.before"
  switch_snapshot | sort >"$out/switches.before"
  accepted_before=$(accepted)
  load_run "$f" "$fixed_rate" "$fixed_secs" "$@"
  fixed_conns=$((($(accepted) - accepted_before) / fixed_secs))
  cpu_snapshot | sort >"$out/cpu.after"
  switch_snapshot | sort >"$out/switches.after"
  fixed_p50=$(fmt_ms "$(p50_of "$f")") fixed_p99=$(fmt_ms "$(p99_of "$f")") fixed_errors=$(errors_of "$f")
  fixed_cpu=$(cpu_shares "$out/cpu.before" "$out/cpu.after" "$fixed_secs" "$(cat "$f.cpu")")
  requests=$(jq -r '.total.latency.count' "$f")
  fixed_ms=$(cpu_per_request "$out/cpu.before" "$out/cpu.after" "$requests")
  fixed_switches=$(switches_per_request "$out/switches.before" "$out/switches.after" "$requests")
  say "$label: $fixed_rate req/s: p50 $fixed_p50 ms, p99 $fixed_p99 ms, $fixed_errors errors; CPU: $fixed_cpu;" \
    "CPU per request: $(per_request "$fixed_ms"); thread switches per request: $fixed_switches;" \
    "$fixed_conns connections accepted a second"
}

# replay <label> <actions>: generates a scenario and replays it faithfully; sets
# replay_summary ("errors, p50/p99 ms") and replay_writes (p99 without registrations).
replay() {
  local label=$1 actions=$2 file=$out/$1-scenario.tsv f=$out/$1-replay.json
  "$sim" generate --users $((actions / 25)) --actions "$actions" --seed 7 --mean-delay-ms 2 --out "$file"
  "$sim" replay "$file" --url "$gw" --json >"$f" || true
  replay_summary="$(jq -r '.errors' "$f") errors, $(fmt_ms "$(p50_of "$f")")/$(fmt_ms "$(p99_of "$f")") ms"
  replay_writes=$(fmt_ms "$(jq -r '[.by_command | to_entries[] | select(.key != "register") | .value.latency.p99_ms] | max' "$f")")
  replay_register=$(fmt_ms "$(jq -r '.by_command.register.latency.p50_ms' "$f")")
  say "$label: replay of $actions actions: $replay_summary; tweet/follow/unfollow p99 at most $replay_writes ms; register p50 $replay_register ms"
  if [ "$(jq -r '.latest_error // ""' "$f")" != "" ]; then say "$label: latest: $(jq -r '.latest_error' "$f")"; fi
}

# wrong_page <why>: the timeline would time another page. A full run says so and goes
# on; the smoke (make test) fails, so that the step cannot silently measure the wrong
# page.
wrong_page() {
  say "$1"
  [ "$smoke" = 0 ] || exit 1
}

# timeline <label> <username>: p50/p99 of GET / (the web UI's "my timeline") for the
# signed-in user, sequential requests on one keep-alive connection after a warm-up;
# sets timeline_p50 / timeline_p99 (raw ms).
timeline() {
  local label=$1 user=$2 jar=$out/$1-cookies cfg=$out/$1-curl.cfg times=$out/$1-timeline.txt code warm=50
  rm -f "$jar"
  code=$(curl -s -o /dev/null -w '%{http_code}' -c "$jar" --data-urlencode "username=$user" \
    --data-urlencode "password=minitwit-seed" "$gw/login")
  [ "$code" = 303 ] || { wrong_page "$label: signing in as $user answered $code"; timeline_p50=- timeline_p99=-; return; }
  # Read whole before matching: `curl | grep -q` under pipefail fails when grep quits at
  # the match while curl still writes the page (SIGPIPE), a false "did not show".
  local page
  page=$(curl -s -b "$jar" "$gw/")
  [[ $page == *"My Timeline"* ]] || wrong_page "$label: GET / did not show My Timeline"
  for _ in $(seq 1 $((timeline_requests + warm))); do
    printf 'url = "%s/"\noutput = "/dev/null"\n' "$gw"
  done >"$cfg"
  curl -s -b "$jar" -K "$cfg" -w '%{http_code} %{time_total}\n' | tail -n +$((warm + 1)) >"$times"
  if awk '$1 != 200 { bad = 1 } END { exit !bad }' "$times"; then say "$label: some GET / did not answer 200"; fi
  read -r timeline_p50 timeline_p99 < <(awk '{ print $2 * 1000 }' "$times" | sort -n | awk '
    { v[NR] = $1 } END { i50 = int(NR * 0.50 + 0.999); i99 = int(NR * 0.99 + 0.999); print v[i50], v[i99] }')
  say "$label: my timeline ($followees followees): p50 $(fmt_ms "$timeline_p50") ms, p99 $(fmt_ms "$timeline_p99") ms"
}

# explain_timeline <label>: EXPLAIN (ANALYZE, BUFFERS) of the "my timeline" query for the
# heavy follower, into $out/<label>-explain.txt: the SQL of message-service's
# AuthorsTimeline (crates/message-service/src/messages.rs) for the first page, binds
# written in; keep the two alike.
explain_timeline() {
  local id ids newest_cursor="9223372036854775807, 9223372036854775807"
  id=$(psql "$users_url" -Atc "SELECT id FROM users WHERE username = '${heavy//\'/\'\'}'")
  ids=$(psql "$follows_url" -Atc "SELECT string_agg(followee_id::text, ',') FROM follows WHERE follower_id = $id")
  psql "$messages_url" -c "EXPLAIN (ANALYZE, BUFFERS)
    WITH newest AS MATERIALIZED (
      SELECT author_id, pub_date, id FROM author_newest WHERE author_id = ANY('{$ids,$id}'::bigint[]))
    SELECT m.id, m.author_id, m.text, m.pub_date, m.flagged FROM (
      SELECT k.id FROM (
        SELECT author_id FROM newest WHERE (pub_date, id) >= ($newest_cursor)
        UNION ALL (SELECT author_id FROM newest WHERE (pub_date, id) < ($newest_cursor)
                   ORDER BY pub_date DESC, id DESC LIMIT 30)) AS a
      CROSS JOIN LATERAL (
        SELECT messages.id, messages.pub_date FROM messages
        WHERE messages.author_id = a.author_id AND NOT messages.flagged
          AND (messages.pub_date, messages.id) < ($newest_cursor)
        ORDER BY messages.pub_date DESC, messages.id DESC LIMIT 30) AS k
      ORDER BY k.pub_date DESC, k.id DESC LIMIT 30) AS page
    JOIN messages AS m ON m.id = page.id ORDER BY m.pub_date DESC, m.id DESC" >"$out/$1-explain.txt"
  say "$1: EXPLAIN of my timeline: $(grep -E 'Execution Time' "$out/$1-explain.txt" | sed 's/^ *//') (in $out/$1-explain.txt)"
  # The same page without author_newest (every author's newest 30 keys, as before
  # 2026-12-07): what ranking the authors first saves.
  psql "$messages_url" -c "EXPLAIN (ANALYZE, BUFFERS) SELECT m.id, m.author_id, m.text, m.pub_date, m.flagged FROM (
      SELECT k.id FROM unnest('{$ids,$id}'::bigint[]) AS a(author_id) CROSS JOIN LATERAL (
        SELECT messages.id, messages.pub_date FROM messages
        WHERE messages.author_id = a.author_id AND NOT messages.flagged
          AND (messages.pub_date, messages.id) < ($newest_cursor)
        ORDER BY messages.pub_date DESC, messages.id DESC LIMIT 30) AS k
      ORDER BY k.pub_date DESC, k.id DESC LIMIT 30) AS page
    JOIN messages AS m ON m.id = page.id ORDER BY m.pub_date DESC, m.id DESC" >"$out/$1-explain-every-author.txt"
  say "$1: the same without author_newest: $(grep -E 'Execution Time' "$out/$1-explain-every-author.txt" | sed 's/^ *//')"
}

# seed_db <label> <messages>: seeds the three PostgreSQL databases; sets heavy (username).
seed_db() {
  local label=$1 messages=$2 f=$out/$1-seed.json
  "$sim" seed --database-url-users "$users_url" --database-url-messages "$messages_url" \
    --database-url-follows "$follows_url" --users "$seed_users" --follows "$seed_follows" \
    --messages "$messages" --heavy-follower "$followees" --seed 1 --json >"$f"
  # What autovacuum would do after a bulk load: statistics and the visibility map
  # (index-only scans).
  psql "$messages_url" -qc "VACUUM (ANALYZE) messages" >/dev/null
  psql "$follows_url" -qc "VACUUM (ANALYZE) follows" >/dev/null
  psql "$users_url" -qc "VACUUM (ANALYZE) users" >/dev/null
  heavy=$(jq -r '.heavy_follower.username' "$f")
  say "$label: seeded $seed_users users, $seed_follows follows, $messages messages in $(jq -r '[.phases[].elapsed_s] | add | floor' "$f") s"
}

# warm_up <label>: registers the load generator's users (argon2 hashing) and warms the
# caches, then starts new memory peaks so they show the mix, not the registrations.
warm_up() {
  local try
  for try in 1 2 3; do
    load_run "$out/$1-warmup-$try.json" 500 5
    [ "$(setup_errors_of "$out/$1-warmup-$try.json")" = 0 ] && break
  done
  reset_peaks
}

# measure <label> <key>: on the running system, warm up, step the rate up, then the
# fixed rate; sets row[<key>_max], row[<key>_fixed], row[<key>_cpu], row[<key>_conns],
# row[<key>_ms] and row[<key>_switches] (and leaves step_up's held_rate, held_peaks and
# missed_rate).
measure() {
  local label=$1 key=$2
  warm_up "$label"
  step_up "$label"
  row[${key}_max]="$held_rate req/s (p99 $held_p99 ms)"
  fixed "$label"
  row[${key}_fixed]="$fixed_p50/$fixed_p99 ms"
  [ "$fixed_errors" = 0 ] || row[${key}_fixed]+=" ($fixed_errors errors)"
  row[${key}_cpu]=$fixed_cpu
  row[${key}_conns]=$fixed_conns
  row[${key}_ms]=$fixed_ms
  row[${key}_switches]=$fixed_switches
}

# per_request "<MiniTwit ms> <PostgreSQL ms>": said in words.
per_request() { echo "MiniTwit ${1% *} ms, PostgreSQL's backends ${1#* } ms"; }

declare -A row=()
machine="$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(free -g | awk '/^Mem:/ { print $2 }') GB"

# --- PostgreSQL run ------------------------------------------------------------------------
users_url=$server_url/${tag}_users
messages_url=$server_url/${tag}_messages
follows_url=$server_url/${tag}_follows
create_db "${tag}_users"
create_db "${tag}_messages"
create_db "${tag}_follows"
say "PostgreSQL: starting the system on ports $base_port-$((base_port + 3)); results in $out"
start_system pg "$users_url" "$messages_url" "$follows_url"
seed_db pg "$pg_messages"
timeline pg "$heavy"
explain_timeline pg
row[pg_t100k]="$(fmt_ms "$timeline_p50")/$(fmt_ms "$timeline_p99") ms"
t100k_p99=$timeline_p99
measure pg pg
row[pg_peak_mix]=$held_peaks
pg_held=$held_rate pg_missed=$missed_rate
# What recording `latest` costs: the CPU per request at the fixed rate, and the held rate
# and the first missed one, without it.
fixed pg-nolatest --no-latest
row[pg_nolatest_ms]=$fixed_ms
for r in $pg_held $pg_missed; do
  [ "$r" != 0 ] || continue
  load_run "$out/pg-nolatest-$r.json" "$r" "$step_secs" --no-latest
  row[pg_nolatest]+="$r req/s: p99 $(fmt_ms "$(p99_of "$out/pg-step-$r.json")") -> $(fmt_ms "$(p99_of "$out/pg-nolatest-$r.json")") ms, errors $(errors_of "$out/pg-step-$r.json") -> $(errors_of "$out/pg-nolatest-$r.json"); "
  say "pg: $r req/s without latest: p99 $(fmt_ms "$(p99_of "$out/pg-nolatest-$r.json")") ms, $(errors_of "$out/pg-nolatest-$r.json") errors"
done
replay pg "$replay_actions"
row[pg_replay]="$replay_summary (writes p99 $replay_writes ms, register p50 $replay_register ms)"
row[pg_peak_all]=$(peaks)
stop_system

# The same system on the same data with mutual TLS between the gateway and the services
# (keep-alive connections, as in the stack): the held rate and the CPU at the fixed rate,
# side by side with the plain run above.
if [ "$do_tls" = 1 ]; then
  say "PostgreSQL with mutual TLS to the services: the same databases, the same steps"
  start_system pgtls "$users_url" "$messages_url" "$follows_url" tls
  measure pgtls tls
  stop_system
fi

# The baseline build on fresh databases with the same data: its held rate and what a
# request costs it at the fixed rate, right after this build's run.
if [ -n "$baseline" ]; then
  for db in users messages follows; do create_db "${tag}_$db"; done
  say "PostgreSQL, the baseline ($baseline_name): fresh databases, the same data and steps"
  bins=$baseline
  start_system base "$users_url" "$messages_url" "$follows_url"
  seed_db base "$pg_messages"
  measure base base
  # This build's CPU per request as a multiple of the baseline's.
  row[base_ratio]=$(awk -v t="${row[pg_ms]}" -v o="${row[base_ms]}" 'BEGIN {
    split(t, a, " "); split(o, b, " ")
    printf "MiniTwit %.2fx, PostgreSQL %.2fx, together %.2fx", a[1] / b[1], a[2] / b[2], (a[1] + a[2]) / (b[1] + b[2]) }')
  stop_system
  bins=$BIN_DIR
fi

if [ "$large" = 1 ]; then
  for db in users messages follows; do create_db "${tag}_$db"; done
  say "PostgreSQL: seeding 10 M messages (minutes)"
  start_system pg10m "$users_url" "$messages_url" "$follows_url"
  seed_db pg10m 10000000
  timeline pg10m "$heavy"
  explain_timeline pg10m
  row[pg_t10m]="$(fmt_ms "$timeline_p50")/$(fmt_ms "$timeline_p99") ms ($(awk -v a="$timeline_p99" -v b="$t100k_p99" 'BEGIN { printf "%.2f", a / b }')x the 100 k p99)"
  stop_system
else
  row[pg_t10m]="(BENCH_LARGE=1)"
fi
for db in users messages follows; do
  psql "$admin_url" -qc "DROP DATABASE IF EXISTS ${tag}_$db WITH (FORCE)" >/dev/null
done

# --- The ceiling: the mix's SQL straight against PostgreSQL ---------------------------------
if [ "$do_pgbench" = 1 ]; then
  pgdb=${tag}_pgbench
  create_db "$pgdb"
  pg_url=$server_url/$pgdb
  # Each service's migrations into a schema of its own, as each has a database of its
  # own (both create legacy_imports); the database's search_path finds both.
  for svc in message follow; do
    psql "$pg_url" -q -v ON_ERROR_STOP=1 -c "CREATE SCHEMA $svc" >/dev/null
    for f in "migrations/$svc-service/postgres"/*/up.sql; do
      PGOPTIONS="-c search_path=$svc" psql "$pg_url" -q -v ON_ERROR_STOP=1 -f "$f" >/dev/null
    done
  done
  psql "$pg_url" -q -v ON_ERROR_STOP=1 -c "ALTER DATABASE $pgdb SET search_path = message, follow" >/dev/null
  psql "$pg_url" -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
INSERT INTO messages (author_id, text, pub_date)
  SELECT 1 + (random() * ($seed_users - 1))::int, md5(g::text) || ' ' || md5((g * 7)::text), 1700000000 + g
  FROM generate_series(1, $pg_messages) g;
INSERT INTO follows (follower_id, followee_id)
  SELECT a, 1 + (a + (random() * ($seed_users - 2))::int) % $seed_users
  FROM (SELECT 1 + (random() * ($seed_users - 1))::int AS a FROM generate_series(1, $seed_follows)) s
  ON CONFLICT DO NOTHING;
VACUUM ANALYZE;
SQL
  mix=(tweet@40 follow@20 unfollow@10 public@15 user@15)
  plain=() withlatest=()
  for m in "${mix[@]}"; do
    name=${m%@*} weight=${m#*@}
    plain+=(-f "scripts/bench/$name.sql@$weight")
    cat "scripts/bench/$name.sql" scripts/bench/latest.sql >"$out/$name+latest.sql"
    withlatest+=(-f "$out/$name+latest.sql@$weight")
  done
  pgb() { # pgb <clients> <scripts...>: transactions per second
    local c=$1
    shift
    pgbench -n -M prepared -c "$c" -j 2 -T "$step_secs" -D users=$seed_users "$@" "$pg_url" 2>/dev/null |
      awk '/^tps/ { printf "%.0f", $3 }'
  }
  for c in 2 16; do
    row[pgb_$c]=$(pgb "$c" "${plain[@]}")
    row[pgbl_$c]=$(pgb "$c" "${withlatest[@]}")
    say "pgbench, $c clients: ${row[pgb_$c]} tps; with a latest upsert per request: ${row[pgbl_$c]} tps"
  done
  # What author_newest's trigger costs a tweet's insert: the insert alone, with the trigger
  # and without it (disabled for the run, then enabled again).
  tweet_on=$(pgb 2 -f scripts/bench/tweet.sql)
  psql "$pg_url" -qc "ALTER TABLE messages DISABLE TRIGGER author_newest_insert"
  tweet_off=$(pgb 2 -f scripts/bench/tweet.sql)
  psql "$pg_url" -qc "ALTER TABLE messages ENABLE TRIGGER author_newest_insert"
  row[pgb_tweet]="$tweet_on tps with author_newest's trigger, $tweet_off without"
  say "pgbench, 2 clients, the tweet insert alone: ${row[pgb_tweet]}"
  psql "$admin_url" -qc "DROP DATABASE IF EXISTS $pgdb WITH (FORCE)" >/dev/null
fi

# --- SQLite run (shorter) --------------------------------------------------------------------
if [ "$do_sqlite" = 1 ]; then
  mkdir -p "$out/sqlite"
  rm -f "$out"/sqlite/*.db*
  say "SQLite: starting the system"
  start_system sqlite "$out/sqlite/users.db" "$out/sqlite/messages.db" "$out/sqlite/follows.db"
  sqlite_messages=20000
  [ "$quick" = 1 ] && sqlite_messages=5000
  [ "$smoke" = 1 ] && sqlite_messages=1000
  f=$out/sqlite-seed.json
  "$sim" seed --url "$gw" --users 1000 --follows 10000 --messages "$sqlite_messages" \
    --heavy-follower "$followees" --seed 1 --concurrency 8 --json >"$f" || true
  heavy=$(jq -r '.heavy_follower.username' "$f")
  say "sqlite: seeded through the API in $(jq -r '[.phases[].elapsed_s] | add | floor' "$f") s, $(jq -r '.errors' "$f") errors"
  timeline sqlite "$heavy"
  row[sq_t]="$(fmt_ms "$timeline_p50")/$(fmt_ms "$timeline_p99") ms (at $sqlite_messages messages)"
  pg_step_secs=$step_secs
  step_secs=$(((step_secs + 1) / 2 + 2))
  fixed_secs=$((fixed_secs / 2))
  measure sqlite sq
  row[sq_peak_mix]=$held_peaks
  replay sqlite "$sqlite_replay"
  row[sq_replay]="$replay_summary (writes p99 $replay_writes ms)"
  row[sq_peak_all]=$(peaks)
  stop_system
fi

# --- The table -----------------------------------------------------------------------------
v() { echo "${row[$1]:--}"; }
{
  echo
  echo "MiniTwit benchmark: $machine; $(date -u '+%Y-%m-%d %H:%M UTC'); shared machine, figures are noisy"
  [ "$smoke" = 0 ] || echo "BENCH_SMOKE=1: every step ran once, for seconds, on a tiny data set; these figures mean nothing"
  echo "$pg_settings"
  echo "Mix: tweet 40, follow 20, unfollow 10, public 15, user 15 (all with latest); load steps of ${pg_step_secs:-$step_secs} s (SQLite $step_secs s)"
  printf '%-44s | %-34s | %s\n' "figure" "PostgreSQL" "SQLite"
  printf '%-44s | %-34s | %s\n' "--------------------------------------------" "----------------------------------" "----------------"
  printf '%-44s | %-34s | %s\n' "highest rate with p99 < 100 ms, no errors" "$(v pg_max)" "$(v sq_max)"
  printf '%-44s | %-34s | %s\n' "p50/p99 at $fixed_rate req/s" "$(v pg_fixed)" "$(v sq_fixed)"
  printf '%-44s | %-34s | %s\n' "replay ($replay_actions / $sqlite_replay actions): errors, p50/p99" "$(v pg_replay)" "$(v sq_replay)"
  printf '%-44s | %-34s | %s\n' "my timeline ($followees followees), p50/p99, $pg_messages" "$(v pg_t100k)" "$(v sq_t)"
  printf '%-44s | %-34s | %s\n' "my timeline ($followees followees), p50/p99, 10 M" "$(v pg_t10m)" "-"
  printf '%-44s | %-34s | %s\n' "peak RSS up to the held rate (gw/user/msg/follow)" "$(v pg_peak_mix)" "$(v sq_peak_mix)"
  printf '%-44s | %-34s | %s\n' "peak RSS overall (+ overload step, registrations)" "$(v pg_peak_all)" "$(v sq_peak_all)"
  echo
  echo "CPU at $fixed_rate req/s, PostgreSQL: $(v pg_cpu)"
  echo "CPU per request at $fixed_rate req/s, PostgreSQL: $(per_request "${row[pg_ms]}");" \
    "without latest: $(per_request "${row[pg_nolatest_ms]}")"
  echo "Thread switches per request at $fixed_rate req/s, PostgreSQL: $(v pg_switches)"
  echo "CPU at $fixed_rate req/s, SQLite:     $(v sq_cpu)"
  echo "Without latest (PostgreSQL): $(v pg_nolatest)"
  if [ "$do_tls" = 1 ]; then
    echo "With mutual TLS to the services (PostgreSQL): highest rate $(v tls_max) (plain: $(v pg_max));" \
      "p50/p99 at $fixed_rate req/s $(v tls_fixed) (plain: $(v pg_fixed))"
    echo "CPU at $fixed_rate req/s, PostgreSQL, mutual TLS: $(v tls_cpu)"
    echo "TCP connections accepted a second at $fixed_rate req/s (the machine's): $(v tls_conns) with mutual TLS," \
      "$(v pg_conns) without"
  fi
  if [ -n "$baseline" ]; then
    echo "Baseline ($baseline_name), PostgreSQL: highest rate $(v base_max) (this build: $(v pg_max));" \
      "p50/p99 at $fixed_rate req/s $(v base_fixed) (this build: $(v pg_fixed))"
    echo "Baseline's CPU at $fixed_rate req/s: $(v base_cpu)"
    echo "CPU per request at $fixed_rate req/s, the baseline: $(per_request "${row[base_ms]}"); this build: $(v base_ratio) the baseline's"
    echo "Thread switches per request at $fixed_rate req/s, the baseline: $(v base_switches)"
  fi
  if [ "$do_pgbench" = 1 ]; then
    echo "pgbench ceiling (the mix's SQL, no HTTP): $(v pgb_2) tps at 2 clients, $(v pgb_16) at 16;" \
      "with a latest upsert per request: $(v pgbl_2) / $(v pgbl_16)"
    echo "pgbench, 2 clients, the tweet insert alone: $(v pgb_tweet)"
  fi
}

# --- The figure ------------------------------------------------------------------------------
# p50 and p99 of every load step against the offered rate, each database (and mutual TLS)
# a colour: $out/latency.svg, copied to BENCH_SVG when set (BENCHMARKS.md shows
# docs/bench/latency.svg, made so).
python3 scripts/bench/plot.py "$out/latency.svg" "$out" "pg=PostgreSQL" "pgtls=PostgreSQL, mTLS" "sqlite=SQLite" \
  "base=PostgreSQL, ${baseline_name##*/}"
if [ -n "${BENCH_SVG:-}" ]; then
  mkdir -p "$(dirname "$BENCH_SVG")"
  cp "$out/latency.svg" "$BENCH_SVG"
  say "latency against the offered rate: $BENCH_SVG"
elif [ -n "${BENCH_OUT:-}" ]; then
  say "latency against the offered rate: $out/latency.svg"
else
  say "latency against the offered rate: set BENCH_SVG=file (or BENCH_OUT) to keep the figure"
fi
