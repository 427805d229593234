#!/usr/bin/env bash
# The simulator API fuzzed against its own OpenAPI document: the three services on
# SQLite files in a temporary directory and the gateway, on free ports, then
# schemathesis (PyPI) reads http://127.0.0.1:PORT/openapi.json and sends generated
# requests (valid and invalid: examples, coverage and fuzzing phases, fixed seed) to
# every route with the simulator's credentials. Every answer must be no 5xx, a status
# the document lists for the route, of its content type and body schema. At least
# SCHEMATHESIS_MIN_REQUESTS (1000) requests must be sent, every route among them; the
# count per route is printed.
#
# Installs schemathesis into a venv under target/ (kept across runs; needs python3 and
# its venv module) and builds the debug binaries when BIN_DIR lacks them.
#
# Environment: BIN_DIR (target/debug), SCHEMATHESIS_VENV (target/schemathesis-venv),
# SCHEMATHESIS_SEED (20261203), SCHEMATHESIS_MAX_EXAMPLES (150 per route and phase),
# SCHEMATHESIS_MAX_TIME (75 s, the bound of the run; 150 s sent about 7,000 here), SCHEMATHESIS_MIN_REQUESTS (1000),
# SCHEMATHESIS_KEEP=1 keeps the logs and reports for a post-mortem.
set -euo pipefail
cd "$(dirname "$0")/.."

me=schemathesis
bin_dir=${BIN_DIR:-target/debug}
venv=${SCHEMATHESIS_VENV:-target/schemathesis-venv}
case "$venv" in /*) ;; *) venv="$PWD/$venv" ;; esac
seed=${SCHEMATHESIS_SEED:-20261203}
max_examples=${SCHEMATHESIS_MAX_EXAMPLES:-150}
max_time=${SCHEMATHESIS_MAX_TIME:-75}
min_requests=${SCHEMATHESIS_MIN_REQUESTS:-1000}
# The version the run was tuned with; a newer 4.x may generate differently.
version="schemathesis>=4.3,<5"
services=(user-service message-service follow-service gateway)
# The simulator's credentials (the gateway's default SIM__AUTHORIZATION).
sim_user="simulator:super_safe!"

log() { printf '%s\n' "$me: $*" >&2; }
started=$(date +%s)

# ---- tools -----------------------------------------------------------------------
if ! "$venv/bin/schemathesis" --version >/dev/null 2>&1; then
  log "installing schemathesis into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "$version"
fi
log "$("$venv/bin/schemathesis" --version)"

missing=0
for s in "${services[@]}"; do [ -x "$bin_dir/$s" ] || missing=1; done
if [ "$missing" -eq 1 ]; then
  log "binaries missing in $bin_dir; cargo build --bins"
  cargo build --bins
  bin_dir=target/debug
fi

# ---- processes and clean-up --------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/minitwit-schemathesis.XXXXXX")
pids=()
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ ${#pids[@]} -gt 0 ]; then
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ]; then
    for s in "${services[@]}"; do
      [ -s "$work/$s.log" ] || continue
      log "last lines of $s:"
      tail -n 15 "$work/$s.log" >&2
    done
  fi
  if [ "${SCHEMATHESIS_KEEP:-0}" = 1 ]; then log "kept $work"; else rm -rf "$work"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=tests/lib/sqlite_system.sh
. tests/lib/sqlite_system.sh
minitwit_start_sqlite "$bin_dir" "$work"

# A few users with messages and follows, so that generated names sometimes exist and
# lists are not all empty (schemathesis's own names almost never do).
python3 - "$base" "$sim_user" <<'PY'
import base64, json, sys, urllib.request
base, cred = sys.argv[1], sys.argv[2]
auth = "Basic " + base64.b64encode(cred.encode()).decode()
def post(path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": auth})
    with urllib.request.urlopen(req, timeout=5) as res:
        assert res.status == 204, (path, res.status)
names = ["a", "0", "string", "Roger Histand"]
for i, n in enumerate(names):
    post("/register", {"username": n, "email": "user%d@x" % i, "pwd": "pw"})
    post("/msgs/" + urllib.request.quote(n, safe=""), {"content": "hello from " + n})
for n in names[1:]:
    post("/fllws/" + urllib.request.quote(names[0], safe=""), {"follow": n})
PY

# ---- the run -----------------------------------------------------------------------
# The checks asked of every answer. The seed and no example database make a run
# repeatable (up to timing: `--max-time` bounds it, fuzzing repeats until then). One
# worker: Python 3.11's ast.parse, which hypothesis calls, is not thread-safe
# ("AST constructor recursion depth mismatch" with two).
# Run from the temporary directory: schemathesis keeps the failures it found in
# ./.schemathesis and replays them first in the next run, which would make a run
# depend on the one before.
set +e
(cd "$work" && "$venv/bin/schemathesis" run "$base/openapi.json" \
  --auth "$sim_user" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --phases examples,coverage,fuzzing \
  --mode all \
  --seed "$seed" \
  --generation-database none \
  --max-examples "$max_examples" \
  --max-time "$max_time" \
  --request-timeout 5 \
  --workers 1 \
  --no-color \
  --report ndjson --report-dir "$work/report") \
  >"$work/schemathesis.out" 2>&1
code=$?
set -e
cat "$work/schemathesis.out"

# Requests sent, per route and status, from the run's event log; too few, or a route
# never tried, fails the test.
python3 - "$work/report" "$min_requests" "$base/openapi.json" <<'PY'
import collections, glob, json, sys, urllib.request
report_dir, minimum, document = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with urllib.request.urlopen(document, timeout=5) as res:
    paths = json.load(res)["paths"]
routes = {"%s %s" % (m.upper(), p) for p, ops in paths.items() for m in ops}
per_route, per_status = collections.Counter(), collections.Counter()
for path in glob.glob(report_dir + "/*.ndjson"):
    with open(path) as f:
        for line in f:
            event = json.loads(line).get("ScenarioFinished")
            if not event:
                continue
            recorder = event["recorder"]
            for interaction in recorder.get("interactions", {}).values():
                response = interaction.get("response")
                per_route[recorder["label"]] += 1
                per_status[response["status_code"] if response else "no answer"] += 1
total = sum(per_route.values())
for route in sorted(routes | set(per_route)):
    print("schemathesis: %6d requests  %s" % (per_route[route], route))
print("schemathesis: %6d requests in all; answers: %s" % (total, ", ".join(
    "%s: %d" % (k, v) for k, v in sorted(per_status.items(), key=lambda kv: str(kv[0])))))
never = sorted(routes - set(per_route))
if never:
    sys.exit("schemathesis: FAIL: never tried: %s" % ", ".join(never))
if total < minimum:
    sys.exit("schemathesis: FAIL: %d requests, fewer than %d" % (total, minimum))
PY
[ "$code" -eq 0 ] || { log "FAIL: schemathesis found failures (above)"; exit "$code"; }
log "passed in $(($(date +%s) - started)) s"
