"""Phase logs: every stdout line of every process is JSON with time, level, service, msg;
our request ids are in the gateway's and each called service's lines; every request a
service served for the gateway carries a gateway request id; no secret appears anywhere
(stdout, stderr, /metrics)."""

import base64
import json
import os
import re
import time
import urllib.parse

from .config import ENV, PROCESSES, SESSION_KEY, SIM_AUTH, WORK, read_text
from .report import R
from .scrape import scrape
from .shared import SIM_PASSWORDS, WEB_PASSWORD, WRONG_AUTH, WRONG_PASSWORD, rid, state

TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)$")
LEVELS = {"TRCE", "DEBG", "INFO", "WARN", "ERRO", "CRIT"}


def phase_logs():
    R.start("logs")
    time.sleep(1.5)  # slog_async flushes shortly after
    lines = {}
    for p in PROCESSES:
        lines[p] = read_text(os.path.join(WORK, f"{p}.log"), errors="replace").splitlines()
    records = {}
    for p in PROCESSES:
        recs, bad = [], []
        for n, line in enumerate(lines[p], 1):
            try:
                rec = json.loads(line)
                if not isinstance(rec, dict):
                    raise ValueError("not an object")
            except ValueError:
                bad.append(f"line {n} not JSON: {line[:120]}")
                continue
            missing = [k for k in ("time", "level", "service", "msg") if k not in rec]
            if missing:
                bad.append(f"line {n} lacks {missing}: {line[:120]}")
            elif rec["service"] != p or rec["level"] not in LEVELS or not TIME_RE.match(str(rec["time"])):
                bad.append(f"line {n} service/level/time wrong: {line[:160]}")
            recs.append(rec)
        records[p] = recs
        R.check(len(lines[p]) > 10 and not bad,
                f"{p}: all {len(lines[p])} stdout lines are JSON with time, level (slog short), service, msg",
                "; ".join(bad[:3]))
        access = [r for r in recs if r.get("msg") == "request"]
        incomplete = [r for r in access
                      if not all(k in r for k in ("req_id", "method", "route", "path", "status", "duration_ms"))]
        R.check(access and not incomplete,
                f"{p}: {len(access)} access lines carry req_id, method, route, status, duration_ms",
                str(incomplete[:2]))

    by_rid = {p: {} for p in PROCESSES}
    for p in PROCESSES:
        for r in records[p]:
            if "req_id" in r:
                by_rid[p].setdefault(r["req_id"], []).append(r)

    for request_id, (desc, procs) in sorted(state["rids"].items()):
        for p in PROCESSES:
            if p in procs:
                R.check(request_id in by_rid[p], f"{desc}: req_id {request_id} in the {p} log")
    gw_line = [r for r in by_rid["gateway"].get(rid("sim-post-0"), []) if r.get("msg") == "request"]
    R.check(len(gw_line) == 1 and gw_line[0].get("route") == "/msgs/{username}" and gw_line[0].get("status") == 204
            and gw_line[0].get("method") == "POST",
            "gateway access line of sim POST /msgs: route pattern /msgs/{username}, status 204", str(gw_line))
    web = [r for r in by_rid["gateway"].get(rid("web-timeline"), []) if r.get("msg") == "request"]
    R.check(len(web) == 1 and isinstance(web[0].get("user_id"), int),
            "gateway access line of GET / (logged in) carries the user_id", str(web))

    # every request a service served for the gateway carries a request id the gateway logged
    gateway_ids = set(by_rid["gateway"])
    for p in PROCESSES[1:]:
        served = [r for r in records[p] if r.get("msg") == "request"
                  and r.get("route") not in ("/health", "/ready", "/metrics")]
        orphan = [r for r in served if r.get("req_id") not in gateway_ids]
        R.check(served and not orphan,
                f"{p}: all {len(served)} requests from the gateway carry a req_id the gateway logged",
                str(orphan[:2]))

    # the outage: a 5xx at the gateway is an error line with its cause
    out = [r for r in by_rid["gateway"].get(rid("outage-follow"), []) if r.get("msg") != "request"
           or r.get("status", 0) >= 500]
    R.check(any(r.get("level") in ("ERRO", "CRIT") and r.get("error") for r in out),
            "the gateway's 5xx during the outage is logged at ERRO with its cause", str(out))

    # no secret anywhere
    secrets = {"sim authorization value": SIM_AUTH, "session key": SESSION_KEY,
               "web password": WEB_PASSWORD, "wrong web password": WRONG_PASSWORD,
               "wrong sim authorization": WRONG_AUTH, "argon2 hash prefix": "$argon2"}
    b64 = SIM_AUTH.split(" ", 1)[-1]
    secrets["sim authorization base64"] = b64
    try:
        decoded = base64.b64decode(b64).decode()
        secrets["sim credentials (decoded)"] = decoded
        secrets["sim password"] = decoded.split(":", 1)[1]
    except ValueError:
        pass
    secrets["wrong sim authorization base64"] = WRONG_AUTH.split(" ", 1)[1]
    for u, pw in SIM_PASSWORDS.items():
        secrets[f"sim password of {u}"] = pw
    for i, c in enumerate(state["cookie_values"]):
        secrets[f"session cookie {i}"] = c
        secrets[f"session cookie {i} (decoded)"] = urllib.parse.unquote(c)
        secrets[f"session cookie {i} (first 24 chars)"] = c[:24]
    if ENV.get("OBS_DB_PASSWORD"):
        secrets["database password"] = ENV["OBS_DB_PASSWORD"]
    texts = {}
    for p in PROCESSES:
        for suffix in ("log", "err"):
            text = read_text(os.path.join(WORK, f"{p}.{suffix}"), errors="replace")
            texts[f"{p} {'stdout' if suffix == 'log' else 'stderr'}"] = text
    live = [p for p in PROCESSES if p != "follow-service"]
    for p in live:
        texts[f"{p} /metrics"] = scrape(p)
    for label, secret in sorted(secrets.items()):
        hits = [where for where, text in texts.items() if secret and secret in text]
        R.check(not hits, f"no {label} in any log line or /metrics", f"found in {hits}")
    for p in PROCESSES:
        err = texts[f"{p} stderr"].strip()
        R.check(not err, f"{p}: nothing on stderr (logs are JSON on stdout)", err[:300])
