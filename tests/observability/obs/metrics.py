"""Phase metrics: /metrics of all four processes before and after the traffic phase:
counters and histograms moved by exactly the traffic sent, for the route PATTERN and
status, with the right `service` label on every series."""

from .config import PROCESSES
from .net import q
from .report import R
from .shared import USERS, WEB_USER, state


def _labels(labels):
    return ",".join(f'{k}="{v}"' for k, v in labels.items())


def phase_metrics(before, after, t):
    R.start("metrics")

    def moved(process, name, want, cmp="==", **labels):
        d = after.delta(before, process, name, **labels)
        ok = d == want if cmp == "==" else d >= want
        R.check(ok, f"{process}: {name}{{{_labels(labels)}}} +{d:g} ({cmp} {want})")

    def histogram_ok(process, name, **labels):
        desc = _labels(labels)
        buckets = after.find(process, f"{name}_bucket", **labels)
        les = {b[0].get("le") for b in buckets}
        count = after.total(process, f"{name}_count", **labels)
        inf = sum(v for lab, v in buckets if lab.get("le") == "+Inf")
        ok = bool(buckets) and {"0.001", "1", "+Inf"} <= les and inf == count and count > 0
        R.check(ok, f"{process}: {name}_bucket{{{desc}}} has 1 ms..1 s buckets and _count {count:g}",
                f"le={sorted(les)} +Inf={inf}")

    gw = "gateway"
    # the gateway: our requests, by route pattern and status
    for method, route, status, n in [
        ("POST", "/register", "204", 3), ("POST", "/register", "400", 1),
        ("POST", "/msgs/{username}", "204", t["posts"] - 1), ("POST", "/fllws/{username}", "204", t["fllws_posts"]),
        ("GET", "/msgs", "200", 1), ("GET", "/msgs", "403", 1), ("GET", "/msgs/{username}", "404", 1),
        ("GET", "/latest", "200", 1), ("POST", "/login", "303", 1), ("GET", "/", "200", 1),
        ("GET", "/public", "200", 1), ("POST", "/add_message", "~30[23]", 1),
        ("POST", "/{username}/follow", "~30[23]", 1), ("POST", "/register", "~30[23]", 1),
    ]:
        moved(gw, "http_requests_total", n, method=method, route=route, status=status)
    histogram_ok(gw, "http_request_duration_seconds", method="POST", route="/msgs/{username}", status="204")
    moved(gw, "http_request_duration_seconds_count", t["posts"] - 1,
          method="POST", route="/msgs/{username}", status="204")
    R.check(bool(after.find(gw, "http_requests_in_flight")), "gateway: http_requests_in_flight exported")
    for up in ("user-service", "message-service", "follow-service"):
        moved(gw, "upstream_requests_total", 1, ">=", upstream=up, outcome="ok")
        histogram_ok(gw, "upstream_request_duration_seconds", upstream=up)
    moved(gw, "gateway_cache_requests_total", 1, ">=")
    R.check(after.total(gw, "gateway_cache_requests_total", result="hit") > 0, "gateway: a cache hit was counted")
    R.check(after.total(gw, "gateway_cache_requests_total", result="miss") > 0, "gateway: a cache miss was counted")
    got = after.total(gw, "minitwit_sim_latest")
    R.check(got == state["latest"], f"gateway: minitwit_sim_latest == {state['latest']}", f"got {got:g}")

    us, ms, fs = "user-service", "message-service", "follow-service"
    moved(us, "http_requests_total", t["registered"], method="POST", route="/users", status="201")
    histogram_ok(us, "http_request_duration_seconds", method="POST", route="/users", status="201")
    moved(us, "http_requests_total", 1, ">=", method="POST", route="/users/login", status="200")
    moved(us, "minitwit_users_registered_total", t["registered"])
    R.check(after.total(us, "minitwit_users_registered_total") >= t["registered"],
            f"user-service: minitwit_users_registered_total >= {t['registered']}")
    R.check(bool(after.find(us, "minitwit_users")), "user-service: minitwit_users gauge exported")

    moved(ms, "http_requests_total", t["posts"], method="POST", route="/messages", status="201")
    histogram_ok(ms, "http_request_duration_seconds", method="POST", route="/messages", status="201")
    moved(ms, "http_requests_total", 1, ">=", method="PUT", route="/latest", status="204")
    moved(ms, "minitwit_messages_posted_total", t["posts"])
    R.check(bool(after.find(ms, "minitwit_messages")), "message-service: minitwit_messages gauge exported")

    moved(fs, "http_requests_total", t["follows"], method="PUT", route="/follows/{follower}/{followee}",
          status="204")
    moved(fs, "http_requests_total", 1, method="DELETE", route="/follows/{follower}/{followee}", status="204")
    moved(fs, "minitwit_follows_total", t["follows"])
    moved(fs, "minitwit_unfollows_total", 1)

    for p in (us, ms, fs):
        R.check(len(after.find(p, "db_pool_connections", state="in_use")) == 1
                and len(after.find(p, "db_pool_connections", state="idle")) == 1
                and after.total(p, "db_pool_max_connections") > 0,
                f"{p}: db_pool_connections{{state=in_use|idle}} and db_pool_max_connections")
        moved(p, "db_pool_wait_seconds_count", 1, ">=")
        R.check(bool(after.find(p, "db_pool_wait_seconds_bucket", le="0.001")), f"{p}: db_pool_wait_seconds buckets")

    for p in PROCESSES:
        for name in ("process_resident_memory_bytes", "process_open_fds"):
            R.check(after.total(p, name) > 0, f"{p}: {name} > 0")
        # the prometheus crate's process collector counts whole CPU seconds (IntCounter)
        R.check(bool(after.find(p, "process_cpu_seconds_total")), f"{p}: process_cpu_seconds_total exported")
        wrong = [(n, lab) for n, lab, _ in after.samples[p] if lab.get("service") != p]
        R.check(not wrong, f'{p}: every series carries service="{p}"', str(wrong[:3]))
        names = USERS + [WEB_USER]
        routes = {lab["route"] for _, lab, _ in after.samples[p] if "route" in lab}
        bad = sorted(r for r in routes if any(u in r or q(u) in r for u in names)
                     or any(seg.isdigit() for seg in r.split("/")))
        R.check(not bad, f"{p}: route labels are patterns, never raw paths ({len(routes)} routes)", str(bad))
