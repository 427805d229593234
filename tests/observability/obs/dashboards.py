"""The Grafana dashboards under deploy/grafana/dashboards: every Prometheus expression of
every panel and query variable, with the dashboard's variables substituted; LogQL targets
set aside."""

import glob
import json
import os
import re

from .config import REPO, read_text
from .report import R


# Grafana's built-in and dashboard variables: values that make sense for a 1 s scrape.
BUILTIN_VARS = {"__rate_interval": "1m", "__interval": "15s", "__interval_ms": "15000",
                "__range": "5m", "__range_s": "300", "__range_ms": "300000"}
DEFAULT_VARS = {"service": "gateway", "job": "gateway", "instance": ".+", "upstream": "user-service",
                "route": "/msgs/{username}", "cache": "user_by_name"}


def substitute(expr, variables):
    def repl(m):
        name = m.group(1) or m.group(2) or m.group(3)
        if name in BUILTIN_VARS:
            return BUILTIN_VARS[name]
        if name in variables:
            return variables[name]
        raise KeyError(name)
    return re.sub(r"\$\{([A-Za-z0-9_]+)(?::[a-z]+)?\}|\[\[([A-Za-z0-9_]+)\]\]|\$([A-Za-z_][A-Za-z0-9_]*)", repl, expr)


def dashboard_variables(dash):
    out = {}
    for v in (dash.get("templating") or {}).get("list", []):
        name = v.get("name")
        cur = (v.get("current") or {}).get("value")
        if isinstance(cur, list):
            cur = cur[0] if cur else None
        if isinstance(cur, str) and cur and not cur.startswith("$__all"):
            out[name] = cur
        elif name in DEFAULT_VARS:
            out[name] = DEFAULT_VARS[name]
        elif v.get("allValue"):
            out[name] = v["allValue"]
        elif v.get("options"):
            out[name] = v["options"][0].get("value")
    return out


def ds_type(ds, default="prometheus"):
    if isinstance(ds, dict):
        t = ds.get("type")
        if t:
            return t
        uid = str(ds.get("uid", ""))
        return "loki" if "loki" in uid.lower() else default
    if isinstance(ds, str):
        return "loki" if "loki" in ds.lower() else default
    return default


def dashboard_expressions():
    """[(key, title, expr)] for every Prometheus target; also the number of LogQL targets skipped."""
    exprs, skipped = [], []
    files = sorted(glob.glob(os.path.join(REPO, "deploy/grafana/dashboards/*.json")))
    R.check(bool(files), f"{len(files)} dashboards found under deploy/grafana/dashboards")
    for path in files:
        stem = os.path.basename(path)[:-5]
        dash = json.loads(read_text(path))
        variables = dashboard_variables(dash)

        def walk(panels, inherited_ds):
            for p in panels:
                pds = p.get("datasource") or inherited_ds
                for t in p.get("targets") or []:
                    expr = t.get("expr")
                    if not expr:
                        continue
                    key = f"{stem}/{p.get('id')}/{t.get('refId', 'A')}"
                    title = p.get("title", "")
                    if ds_type(t.get("datasource") or pds) != "prometheus":
                        skipped.append((key, title, expr))
                        continue
                    try:
                        exprs.append((key, title, substitute(expr, variables)))
                    except KeyError as e:
                        R.check(False, f"{key} {title!r}: unknown Grafana variable ${e.args[0]}", expr)
                walk(p.get("panels") or [], pds)

        walk(dash.get("panels") or [], None)
        for v in (dash.get("templating") or {}).get("list", []):
            if v.get("type") == "query" and ds_type(v.get("datasource")) == "prometheus":
                query = v.get("query")
                query = query.get("query") if isinstance(query, dict) else query
                m = re.fullmatch(r"\s*label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*", query or "")
                if m:
                    query = f"count by ({m.group(2)}) ({m.group(1)})"
                if query:
                    exprs.append((f"{stem}/var/{v.get('name')}", f"variable {v.get('name')}", query))
    return exprs, skipped
