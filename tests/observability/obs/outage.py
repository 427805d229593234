"""Phase outage: stops follow-service (by the pid the script gives us): the gateway
answers 503 with an error line carrying the cause, its /ready says 503, the upstream
counter records `unavailable`, Prometheus sees it down and the MinitwitServiceDown alert
goes pending for job="follow-service"."""

import os
import signal
import time

from .config import ENV, URLS
from .gateway import sim
from .net import port_open, q, request
from .prometheus import prom_rules, query
from .report import R
from .scrape import Snapshot
from .shared import USERS, rid, state


def phase_outage():
    R.start("outage")
    before = Snapshot()
    pid = int(ENV["OBS_FOLLOW_PID"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 25
    while port_open(URLS["follow-service"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    R.check(not port_open(URLS["follow-service"]), "follow-service stopped on SIGTERM")

    ada, grace = USERS[0], USERS[1]
    r = sim("POST", f"/fllws/{q(ada)}?latest={state['latest'] + 1}", rid("outage-follow"), {"follow": grace})
    state["latest"] += 1
    R.check(500 <= r.status < 600, f"sim POST /fllws while follow-service is down -> {r.status} (5xx)", r.text()[:200])
    r = request(URLS["gateway"], "GET", "/ready")
    R.check(r.status == 503, f"gateway /ready while follow-service is down -> {r.status}")
    gw = Snapshot(["gateway"])
    d = gw.delta(before, "gateway", "upstream_requests_total", upstream="follow-service",
                 outcome="~unavailable|timeout")
    R.check(d >= 1, f"gateway: upstream_requests_total{{upstream=follow-service,outcome=unavailable}} +{d:g}")
    d = gw.delta(before, "gateway", "http_requests_total", route="/fllws/{username}", status="~5..")
    R.check(d >= 1, f"gateway: http_requests_total{{route=/fllws/{{username}},status=5xx}} +{d:g}")

    rule = state.get("rules", {}).get("MinitwitServiceDown")
    if R.check(rule is not None, "alert MinitwitServiceDown is loaded"):
        deadline = time.monotonic() + 20
        jobs, alert_state = [], None
        while time.monotonic() < deadline:
            doc = query(rule["query"])
            jobs = [s["metric"].get("job") for s in doc.get("data", {}).get("result", [])]
            for ru in prom_rules():
                if ru["name"] == "MinitwitServiceDown":
                    alert_state = [(a["labels"].get("job"), a["state"]) for a in ru.get("alerts", [])]
            if jobs == ["follow-service"] and ("follow-service", "pending") in (alert_state or []):
                break
            time.sleep(1)
        R.check(jobs == ["follow-service"], "MinitwitServiceDown expression returns job=follow-service", str(jobs))
        R.check(("follow-service", "pending") in (alert_state or []),
                "MinitwitServiceDown is pending for job=follow-service", str(alert_state))
        doc = query('sum by (job) (up{job=~"gateway|user-service|message-service|follow-service"})')
        ups = {s["metric"]["job"]: float(s["value"][1]) for s in doc["data"]["result"]}
        R.check(ups.get("follow-service") == 0 and ups.get("gateway") == 1, "'Replicas up' panel shows 0 for follow-service",
                str(ups))
