"""Prometheus's HTTP API: instant queries, GET endpoints, the loaded rules, and whether a
result has data."""

import json
import math
import urllib.parse

from .config import PROM
from .net import request


def prom(path, params=None):
    body = urllib.parse.urlencode(params or {})
    r = request(PROM, "POST", path, {"Content-Type": "application/x-www-form-urlencoded"}, body, timeout=30)
    try:
        doc = json.loads(r.body)
    except ValueError:
        doc = {"status": "error", "error": r.text()[:300]}
    return doc


def prom_get(path):
    return json.loads(request(PROM, "GET", path, timeout=30).body)


def prom_rules():
    """Every alerting and recording rule Prometheus loaded, with its state, of every group."""
    return [rule for g in prom_get("/api/v1/rules")["data"]["groups"] for rule in g["rules"]]


def query(expr, at=None):
    params = {"query": expr}
    if at is not None:
        params["time"] = f"{at:.3f}"
    return prom("/api/v1/query", params)


def has_data(doc):
    """(has any non-NaN value, number of series)."""
    data = doc.get("data", {})
    rtype, result = data.get("resultType"), data.get("result")
    if rtype == "scalar":
        return (not math.isnan(float(result[1]))), 1
    if rtype == "vector":
        vals = [float(s["value"][1]) for s in result]
        return any(not math.isnan(v) for v in vals), len(vals)
    if rtype == "matrix":
        return bool(result), len(result)
    return False, 0
