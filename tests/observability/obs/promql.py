"""Phase promql: every PromQL expression of every Grafana panel and every rule of
deploy/prometheus/alerts.yml, through Prometheus's HTTP API: parses, returns data (unless
allow-listed in no-data-ok.txt), every metric it names exists and every `label="value"`
it filters on matches a series.

Also: the scrape jobs are the ones deploy/prometheus/prometheus.yml defines, all targets
are up, each job's series carry service=<job>, and the LogQL targets (Loki is not run)
name only labels Alloy sets. Leaves Prometheus's rules by name in shared.state for the
outage phase.
"""

import fnmatch
import os
import re
import time

from .config import ALLOW_LIST, PROCESSES, REPO, read_text
from .dashboards import dashboard_expressions
from .prometheus import has_data, prom_get, prom_rules, query
from .promql_text import selector_text, selectors
from .report import R
from .shared import state


def load_allow_list():
    entries, metrics = {}, []
    with open(ALLOW_LIST, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            body, _, reason = line.partition("#")
            body, reason = body.strip(), reason.strip()
            if not body:
                continue
            if not reason:
                R.check(False, f"{os.path.basename(ALLOW_LIST)}:{n}: entry without a '# reason'", line.strip())
                continue
            kind, _, key = body.partition(" ")
            key = key.strip()
            if kind == "metric":
                metrics.append((key, reason))
            elif kind in ("panel", "alert", "record"):
                entries[f"{kind} {key}"] = reason
            else:
                R.check(False, f"{os.path.basename(ALLOW_LIST)}:{n}: unknown kind {kind!r}", line.strip())
    return entries, metrics


def phase_promql():
    R.start("promql")
    allow, external = load_allow_list()
    used = set()

    def is_external(metric):
        for pattern, reason in external:
            if fnmatch.fnmatchcase(metric, pattern):
                used.add(f"metric {pattern}")
                return True
        return False

    # the scrape jobs the dashboards and alerts name are the ones deploy/prometheus/prometheus.yml defines
    prometheus_yml = read_text(os.path.join(REPO, "deploy/prometheus/prometheus.yml"))
    jobs_deploy = set(re.findall(r"^\s*-\s*job_name:\s*['\"]?([A-Za-z0-9_.-]+)", prometheus_yml, re.M))
    for job in PROCESSES + ["node-exporter"]:
        R.check(job in jobs_deploy, f"deploy/prometheus/prometheus.yml has job {job!r} (as this test scrapes it)")
    doc = prom_get("/api/v1/targets")
    targets = doc["data"]["activeTargets"]
    down = [(t["labels"]["job"], t.get("lastError")) for t in targets if t["health"] != "up"]
    R.check(not down and len(targets) >= 5, f"Prometheus: all {len(targets)} targets up", str(down))
    doc = query('count by (job, service) '
                '({job=~"gateway|user-service|message-service|follow-service", __name__!~"up|scrape_.*"})')
    pairs = sorted((s["metric"].get("job"), s["metric"].get("service")) for s in doc["data"]["result"])
    R.check(pairs == sorted((p, p) for p in PROCESSES), "Prometheus: each job's series carry service=<job>",
            str(pairs))

    names = set(prom_get("/api/v1/label/__name__/values")["data"])
    now = time.time()

    # alert and recording rules: as Prometheus loaded them from deploy/prometheus/alerts.yml
    alerts_yml = read_text(os.path.join(REPO, "deploy/prometheus/alerts.yml"))
    declared = re.findall(r"^\s*-?\s*(alert|record):\s*(\S+)", alerts_yml, re.M)
    rules = prom_rules()
    R.check(len(rules) == len(declared) and len(rules) > 0,
            f"Prometheus loaded {len(rules)} rules, alerts.yml declares {len(declared)}")
    for rule in rules:
        R.check(rule.get("health") == "ok" and not rule.get("lastError"),
                f"rule {rule['name']}: evaluated by Prometheus, health {rule.get('health')}",
                rule.get("lastError", ""))

    exprs, skipped = dashboard_expressions()
    items = [(f"panel {key}", f"{key} {title!r}", expr, True) for key, title, expr in exprs]
    items += [(f"{'alert' if r['type'] == 'alerting' else 'record'} {r['name']}", f"rule {r['name']}",
               r["query"], False) for r in rules]
    print(f"     {len(exprs)} panel expressions, {len(rules)} rule expressions; "
          f"{len(skipped)} Loki (LogQL) targets skipped")

    for key, label, expr, is_panel in items:
        doc = query(expr, now)
        if not R.check(doc.get("status") == "success", f"{label}: parses", f"{doc.get('error')}  expr: {expr}"):
            continue
        data, n = has_data(doc)
        reason = allow.get(key)
        if reason is not None:
            used.add(key)
            if data:
                R.note(f"{label}: allow-listed as no-data ({reason}) but returned {n} series")
            R.check(True, f"{label}: no data allowed ({reason})")
        else:
            what = "returns data" if is_panel else "returns data (condition true here)"
            R.check(data, f"{label}: {what} ({n} series)",
                    f"empty or NaN only; expr: {' '.join(expr.split())}")
        # a result grouped by service must not mix in other exporters' series (no service label)
        groups = re.findall(r"\b(?:by|on)\s*\(([^)]*)\)", expr)
        if data and any("service" in [g.strip() for g in grp.split(",")] for grp in groups) \
                and doc["data"]["resultType"] == "vector":
            strays = [s["metric"] for s in doc["data"]["result"] if not s["metric"].get("service")]
            R.check(not strays, f"{label}: every series grouped by service has a service label",
                    f"{len(strays)} series from other exporters, e.g. {strays[:2]}; "
                    f"filter on {{service!=\"\"}} or the MiniTwit jobs")
        # every metric it names is exported, every label="value" it filters on exists
        try:
            sels = selectors(expr)
        except ValueError as e:
            R.check(False, f"{label}: selectors", str(e))
            continue
        for name, found in sels:
            if name is None or is_external(name):
                continue
            if not R.check(name in names, f"{label}: metric {name} is exported",
                           "no process exports it (typo, or missing in the code?)"):
                continue
            eq = [m for m in found if m[1] == "=" and m[2] != ""]
            rx = [m for m in found if m[1] == "=~"]
            if eq:
                sel = selector_text(name, eq)
                d, _ = has_data(query(f"count({sel})", now))
                R.check(d, f"{label}: {sel} matches series")
            for lab, _, _ in rx:
                sel = selector_text(name, [(lab, "!=", "")])
                d, _ = has_data(query(f"count({sel})", now))
                R.check(d, f"{label}: {name} has label {lab}")

    check_logql(skipped)

    for key in allow:
        R.check(key in used, f"allow-list entry '{key}' names an existing expression")
    for pattern, _ in external:
        R.check(f"metric {pattern}" in used, f"allow-list entry 'metric {pattern}' is used")
    state["rules"] = {r["name"]: r for r in rules}


def check_logql(targets):
    """Loki is not run here: check the LogQL stream selectors statically against the labels
    deploy/alloy/config.alloy gives log streams, and level filters against slog's levels."""
    alloy = read_text(os.path.join(REPO, "deploy/alloy/config.alloy"))
    labels = set(re.findall(r'target_label\s*=\s*"([A-Za-z_][A-Za-z0-9_]*)"', alloy))
    for block in re.findall(r"stage\.labels\s*\{[^{}]*values\s*=\s*\{([^}]*)\}", alloy):
        labels |= set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*=", block))
    for key, title, expr in targets:
        for inner in re.findall(r"\{([^{}]*)\}", expr):
            for lab, op, val in re.findall(r'([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:\\.|[^"\\])*)"', inner):
                R.check(lab in labels, f"{key} {title!r} (LogQL): label {lab} is set by Alloy",
                        f"Alloy sets {sorted(labels)}")
                if lab == "level" and op == "=~":
                    R.check(re.fullmatch(val, "ERRO") is not None,
                            f"{key} {title!r} (LogQL): level=~{val!r} matches slog's ERRO")
