#!/usr/bin/env python3
"""The checks of tests/observability.sh, against processes that script started.

Standard library only. Phases, in order:

  traffic   scripted requests through the gateway (simulator API and web UI), each
            with an X-Request-Id of our own, with the secrets we later hunt for;
  metrics   /metrics of all four processes before and after: counters and histograms
            moved by exactly the traffic sent, for the route PATTERN and status, with
            the right `service` label on every series;
  load      ~20 s of mixed traffic (some 4xx on purpose) while Prometheus scrapes;
  promql    every PromQL expression of every Grafana panel and every rule of
            deploy/prometheus/alerts.yml, through Prometheus's HTTP API: parses, returns
            data (unless allow-listed in no-data-ok.txt), every metric it names exists
            and every `label="value"` it filters on matches a series;
  outage    stops follow-service (by the pid the script gives us): the gateway answers
            503 with an error line carrying the cause, its /ready says 503, the upstream
            counter records `unavailable`, Prometheus sees it down and the
            MinitwitServiceDown alert goes pending for job="follow-service";
  logs      every stdout line of every process is JSON with time, level, service, msg;
            our request ids are in the gateway's and each called service's lines; every
            request a service served for the gateway carries a gateway request id; no
            secret appears anywhere (stdout, stderr, /metrics).

Configuration comes from the environment (set by tests/observability.sh):
  OBS_REPO, OBS_WORK, OBS_RUN, OBS_GATEWAY/OBS_USER/OBS_MESSAGE/OBS_FOLLOW (base URLs),
  OBS_PROMETHEUS (base URL), OBS_FOLLOW_PID, OBS_SIM_AUTH_FILE, OBS_SESSION_KEY_FILE,
  OBS_DB_PASSWORD (may be empty), OBS_LOAD_SECONDS, OBS_ALLOW_LIST.

OBS_PHASES=promql runs the promql phase alone, against any Prometheus that scrapes the
MiniTwit jobs (the cluster test: the stack's own, with no-data-ok-stack.txt); it needs
only OBS_REPO (the files it reads), OBS_PROMETHEUS and OBS_ALLOW_LIST.
"""

import base64
import fnmatch
import glob
import http.client
import json
import math
import os
import random
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse

ENV = os.environ
PHASES = ENV.get("OBS_PHASES", "all")
PROMQL_ONLY = PHASES == "promql"
REPO = ENV["OBS_REPO"]
WORK = ENV.get("OBS_WORK", "") if PROMQL_ONLY else ENV["OBS_WORK"]
RUN = ENV.get("OBS_RUN", "") if PROMQL_ONLY else ENV["OBS_RUN"]
URLS = {
    name: (ENV.get(var, "") if PROMQL_ONLY else ENV[var])
    for name, var in [("gateway", "OBS_GATEWAY"), ("user-service", "OBS_USER"),
                      ("message-service", "OBS_MESSAGE"), ("follow-service", "OBS_FOLLOW")]
}
PROCESSES = list(URLS)
PROM = ENV["OBS_PROMETHEUS"]
LOAD_SECONDS = float(ENV.get("OBS_LOAD_SECONDS", "20"))
ALLOW_LIST = ENV.get("OBS_ALLOW_LIST", os.path.join(REPO, "tests/observability/no-data-ok.txt"))

SIM_AUTH = SESSION_KEY = ""
if not PROMQL_ONLY:
    with open(ENV["OBS_SIM_AUTH_FILE"], encoding="utf-8") as f:
        SIM_AUTH = f.read().strip()
    with open(ENV["OBS_SESSION_KEY_FILE"], encoding="utf-8") as f:
        SESSION_KEY = f.read().strip()


# ---------------------------------------------------------------- results


class Results:
    def __init__(self):
        self.by_phase = {}
        self.failures = []
        self.notes = []
        self.phase = "setup"

    def start(self, phase):
        self.phase = phase
        self.by_phase.setdefault(phase, [0, 0])
        print(f"-- {phase}", flush=True)

    def check(self, ok, what, detail=""):
        counts = self.by_phase.setdefault(self.phase, [0, 0])
        if ok:
            counts[0] += 1
            print(f"ok   {what}", flush=True)
        else:
            counts[1] += 1
            line = f"{what}" + (f": {detail}" if detail else "")
            self.failures.append(f"[{self.phase}] {line}")
            print(f"FAIL {line}", flush=True)
        return ok

    def note(self, text):
        self.notes.append(f"[{self.phase}] {text}")
        print(f"note {text}", flush=True)

    def summary(self):
        print("\n== observability summary")
        for phase, (ok, bad) in self.by_phase.items():
            print(f"  {phase:<8} {ok:4d} passed  {bad:3d} failed")
        for n in self.notes:
            print(f"  NOTE {n}")
        for f in self.failures:
            print(f"  FAIL {f}")
        total_ok = sum(v[0] for v in self.by_phase.values())
        if self.failures:
            print(f"observability: {len(self.failures)} of {total_ok + len(self.failures)} checks FAILED")
        else:
            print(f"observability: all {total_ok} checks passed")
        return not self.failures


R = Results()


# ---------------------------------------------------------------- HTTP


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # list of (name, value)
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def text(self):
        return self.body.decode("utf-8", "replace")


def request(base, method, path, headers=None, body=None, timeout=15):
    """One request on a fresh connection (the simulator's way); no redirects followed."""
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    hdrs = {"Connection": "close"}
    hdrs.update(headers or {})
    if isinstance(body, str):
        body = body.encode()
    try:
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        return Resp(r.status, r.getheaders(), r.read())
    finally:
        conn.close()


def q(name):
    return urllib.parse.quote(name, safe="")


def sim(method, path, rid=None, body=None, auth=True, extra=None):
    headers = {}
    if auth:
        headers["Authorization"] = SIM_AUTH
    if rid:
        headers["X-Request-Id"] = rid
    if body is not None:
        headers["Content-Type"] = "application/json"
        body = json.dumps(body)
    headers.update(extra or {})
    return request(URLS["gateway"], method, path, headers, body)


def form(path, fields, rid=None, cookie=None):
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if rid:
        headers["X-Request-Id"] = rid
    if cookie:
        headers["Cookie"] = cookie
    return request(URLS["gateway"], "POST", path, headers, urllib.parse.urlencode(fields))


def page(path, rid=None, cookie=None):
    headers = {}
    if rid:
        headers["X-Request-Id"] = rid
    if cookie:
        headers["Cookie"] = cookie
    return request(URLS["gateway"], "GET", path, headers)


# ---------------------------------------------------------------- /metrics parsing

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$")
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:\\.|[^"\\])*)"\s*,?')


def parse_metrics(text):
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise ValueError(f"unparsable metrics line: {line!r}")
        labels = {}
        if m.group(2):
            pos = 0
            raw = m.group(2)
            while pos < len(raw):
                lm = LABEL.match(raw, pos)
                if not lm:
                    raise ValueError(f"unparsable labels: {line!r}")
                labels[lm.group(1)] = lm.group(2).encode().decode("unicode_escape")
                pos = lm.end()
        samples.append((m.group(1), labels, float(m.group(3))))
    return samples


def scrape(process):
    r = request(URLS[process], "GET", "/metrics")
    if r.status != 200:
        raise RuntimeError(f"{process} /metrics answered {r.status}")
    return r.text()


class Snapshot:
    def __init__(self):
        self.text = {p: scrape(p) for p in PROCESSES}
        self.samples = {p: parse_metrics(t) for p, t in self.text.items()}

    def find(self, process, name, **want):
        """Samples of `name` whose labels match `want` (a value starting with '~' is a regex)."""
        out = []
        for n, labels, v in self.samples[process]:
            if n != name:
                continue
            if all(_match(labels.get(k), w) for k, w in want.items()):
                out.append((labels, v))
        return out

    def total(self, process, name, **want):
        return sum(v for _, v in self.find(process, name, **want))


def _match(value, want):
    if value is None:
        return False
    if want.startswith("~"):
        return re.fullmatch(want[1:], value) is not None
    return value == want


# ---------------------------------------------------------------- state shared by phases

USERS = [f"Obs Ada {RUN}", f"Obs Grace {RUN}", f"Obs Linus {RUN}"]
WEB_USER = f"obs_web_{RUN}"
SIM_PASSWORDS = {u: f"SimPw-{os.urandom(6).hex()}-{i}" for i, u in enumerate(USERS)}
WEB_PASSWORD = f"WebPw-{os.urandom(8).hex()}"
WRONG_PASSWORD = f"WrongPw-{os.urandom(8).hex()}"
WRONG_AUTH = "Basic " + base64.b64encode(f"intruder:{os.urandom(6).hex()}".encode()).decode()

state = {
    "rids": {},  # rid -> (description, {processes whose log must carry it})
    "cookie_values": [],
    "latest": None,
    "web_user_id": None,
}


def rid(name):
    return f"obs-{RUN}-{name}"


def expect(resp, codes, what):
    codes = codes if isinstance(codes, (list, tuple, set)) else [codes]
    ok = resp.status in codes
    R.check(ok, f"{what} -> {resp.status}", "" if ok else f"expected {codes}: {resp.text()[:300]}")
    return ok


# ---------------------------------------------------------------- phase: traffic


def phase_traffic():
    R.start("traffic")
    t = {}  # expected deltas, filled as we go
    ada, grace, linus = USERS
    latest = 100

    # simulator API
    for i, u in enumerate(USERS):
        latest += 1
        r = sim("POST", f"/register?latest={latest}", rid(f"sim-register-{i}"),
                {"username": u, "email": f"obs{i}.{RUN}@example.org", "pwd": SIM_PASSWORDS[u]}, auth=False)
        expect(r, 204, f"sim POST /register {u!r}")
        if i == 0:
            state["rids"][rid("sim-register-0")] = (
                "sim POST /register?latest=", {"gateway", "user-service", "message-service"})
            R.check(r.header("X-Request-Id") == rid("sim-register-0"), "gateway echoes our X-Request-Id")
    latest += 1
    r = sim("POST", f"/register?latest={latest}", rid("sim-register-dup"),
            {"username": ada, "email": f"dup.{RUN}@example.org", "pwd": SIM_PASSWORDS[ada]}, auth=False)
    expect(r, 400, "sim POST /register (taken name)")
    state["rids"][rid("sim-register-dup")] = ("sim POST /register (taken)", {"gateway", "user-service"})

    posts = 0
    for i, (u, text) in enumerate([(ada, "hello from Ada"), (ada, "Ada again"), (grace, "Grace here")]):
        latest += 1
        r = sim("POST", f"/msgs/{q(u)}?latest={latest}", rid(f"sim-post-{i}"), {"content": f"{text} {RUN}"})
        expect(r, 204, f"sim POST /msgs/{u}")
        posts += 1
    state["rids"][rid("sim-post-0")] = ("sim POST /msgs/<user>", {"gateway", "message-service"})

    follows = 0
    fllws_posts = 0
    for i, (u, body) in enumerate([(ada, {"follow": grace}), (ada, {"follow": linus}),
                                   (grace, {"follow": ada}), (ada, {"unfollow": linus})]):
        latest += 1
        r = sim("POST", f"/fllws/{q(u)}?latest={latest}", rid(f"sim-follow-{i}"), body)
        expect(r, 204, f"sim POST /fllws/{u} {body}")
        fllws_posts += 1
        if "follow" in body:
            follows += 1
    state["rids"][rid("sim-follow-0")] = ("sim POST /fllws/<user>", {"gateway", "follow-service"})

    latest += 1
    r = sim("GET", f"/msgs?no=20&latest={latest}", rid("sim-msgs"))
    if expect(r, 200, "sim GET /msgs"):
        msgs = json.loads(r.body)
        R.check(any(m.get("content") == f"Grace here {RUN}" for m in msgs), "GET /msgs lists the posted message")
    state["rids"][rid("sim-msgs")] = ("sim GET /msgs", {"gateway", "message-service"})

    r = sim("GET", f"/msgs?no=5&latest={latest + 1}", rid("sim-msgs-badauth"), extra={"Authorization": WRONG_AUTH})
    expect(r, 403, "sim GET /msgs with a wrong Authorization")
    latest += 1
    r = sim("GET", f"/msgs/{q('nobody ' + RUN)}", rid("sim-msgs-404"))
    expect(r, 404, "sim GET /msgs/<unknown user>")

    r = sim("GET", "/latest", rid("sim-latest"), auth=False)
    if expect(r, 200, "sim GET /latest"):
        R.check(json.loads(r.body).get("latest") == latest, f"GET /latest is {latest}", r.text())
    state["latest"] = latest

    # web UI
    r = form("/register", {"username": WEB_USER, "email": f"web.{RUN}@example.org",
                           "password": WEB_PASSWORD, "password2": WEB_PASSWORD}, rid("web-register"))
    expect(r, [302, 303], "web POST /register (form)")
    state["rids"][rid("web-register")] = ("web POST /register", {"gateway", "user-service"})
    r = form("/login", {"username": WEB_USER, "password": WRONG_PASSWORD}, rid("web-login-wrong"))
    R.check(r.status < 500 and r.status not in (302, 303), f"web POST /login with a wrong password -> {r.status}")
    r = form("/login", {"username": WEB_USER, "password": WEB_PASSWORD}, rid("web-login"))
    expect(r, [302, 303], "web POST /login")
    state["rids"][rid("web-login")] = ("web POST /login", {"gateway", "user-service"})
    cookie = None
    for sc in r.all("Set-Cookie"):
        name, _, rest = sc.partition("=")
        if name.strip() == "minitwit_session":
            value = rest.split(";", 1)[0]
            if value:
                cookie = f"minitwit_session={value}"
                state["cookie_values"].append(value)
    R.check(cookie is not None, "login sets the minitwit_session cookie", str(r.all("Set-Cookie")))
    state["cookie"] = cookie

    r = page("/", rid("web-timeline"), cookie)
    if expect(r, 200, "web GET / (logged in)"):
        R.check("My Timeline" in r.text(), "GET / shows My Timeline")
    state["rids"][rid("web-timeline")] = ("web GET / (logged in)", {"gateway", "message-service", "follow-service"})
    r = page("/public", rid("web-public"))
    if expect(r, 200, "web GET /public"):
        R.check("Public Timeline" in r.text(), "GET /public shows Public Timeline")
    r = form("/add_message", {"text": f"web message {RUN}"}, rid("web-add-message"), cookie)
    expect(r, [302, 303], "web POST /add_message")
    posts += 1
    r = form(f"/{q(grace)}/follow", {}, rid("web-follow"), cookie)
    expect(r, [302, 303], f"web POST /{grace}/follow")
    follows += 1
    for sc in r.all("Set-Cookie"):  # flash messages re-issue the cookie
        name, _, rest = sc.partition("=")
        if name.strip() == "minitwit_session" and rest.split(";", 1)[0]:
            state["cookie_values"].append(rest.split(";", 1)[0])

    t.update(posts=posts, follows=follows, fllws_posts=fllws_posts, registered=len(USERS) + 1)
    return t


# ---------------------------------------------------------------- phase: metrics


def phase_metrics(before, after, t):
    R.start("metrics")

    def delta(process, name, **labels):
        return after.total(process, name, **labels) - before.total(process, name, **labels)

    def moved(process, name, want, cmp="==", **labels):
        d = delta(process, name, **labels)
        ok = d == want if cmp == "==" else d >= want
        desc = ",".join(f'{k}="{v}"' for k, v in labels.items())
        R.check(ok, f"{process}: {name}{{{desc}}} +{d:g} ({cmp} {want})")

    def histogram_ok(process, name, **labels):
        desc = ",".join(f'{k}="{v}"' for k, v in labels.items())
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


# ---------------------------------------------------------------- phase: load


def phase_load():
    R.start("load")
    stop = time.monotonic() + LOAD_SECONDS
    counts = {"requests": 0, "unexpected": []}
    lock = threading.Lock()
    cookie = state["cookie"]
    latest_box = [state["latest"]]

    def one(rng, n):
        u = rng.choice(USERS)
        other = rng.choice([x for x in USERS if x != u])
        with lock:
            latest_box[0] += 1
            latest = latest_box[0]
        kind = rng.randrange(12)
        rid_hdr = {} if n % 3 else {"X-Request-Id": f"obs-{RUN}-load-{threading.get_ident()}-{n}"}
        if kind == 0:
            return sim("POST", f"/msgs/{q(u)}?latest={latest}", None, {"content": f"load {n}"}, extra=rid_hdr), [204]
        if kind == 1:
            key = rng.choice(["follow", "unfollow"])
            return sim("POST", f"/fllws/{q(u)}?latest={latest}", None, {key: other}, extra=rid_hdr), [204]
        if kind == 2:
            return sim("GET", f"/msgs?no=20&latest={latest}", None, extra=rid_hdr), [200]
        if kind == 3:
            return sim("GET", f"/msgs/{q(u)}?no=10", None, extra=rid_hdr), [200]
        if kind == 4:
            return sim("GET", f"/fllws/{q(u)}", None, extra=rid_hdr), [200]
        if kind == 5:
            return sim("GET", "/latest", None, auth=False, extra=rid_hdr), [200]
        if kind == 6:
            return page("/", None, cookie), [200]
        if kind == 7:
            return page("/public"), [200]
        if kind == 8:
            return page(f"/{q(u)}", None, cookie), [200]
        if kind == 9:
            return sim("GET", f"/msgs/{q('nobody ' + RUN)}", None), [404]
        if kind == 10:
            return sim("GET", "/msgs?no=5", None, extra={"Authorization": WRONG_AUTH}), [403]
        return form("/add_message", {"text": f"web load {n}"}, None, cookie), [302, 303]

    def worker(seed):
        rng = random.Random(seed)
        n = 0
        while time.monotonic() < stop:
            n += 1
            try:
                resp, ok = one(rng, n)
                bad = None if resp.status in ok else f"{resp.status} (expected {ok}): {resp.text()[:120]}"
            except (OSError, http.client.HTTPException) as e:
                bad = f"{type(e).__name__}: {e}"
            with lock:
                counts["requests"] += 1
                if bad:
                    counts["unexpected"].append(bad)
            time.sleep(0.01)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    state["latest"] = latest_box[0]
    n = counts["requests"]
    print(f"     {n} requests in {LOAD_SECONDS:g} s")
    R.check(n >= 50, f"load: {n} requests sent")
    R.check(not counts["unexpected"], "load: every answer had the expected status",
            f"{len(counts['unexpected'])} unexpected, e.g. {counts['unexpected'][:3]}")


# ---------------------------------------------------------------- PromQL extraction

TOKEN = re.compile(r"""
  (?P<ws>\s+|\#[^\n]*)
| (?P<str>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
| (?P<range>\[[^\]]*\])
| (?P<num>(?:0[xX][0-9a-fA-F]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)(?:ms|[smhdwy])*)
| (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
| (?P<op>==|!=|=~|!~|>=|<=|[-+*/%^<>=(){},@])
""", re.X)
AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
                "bottomk", "topk", "quantile", "limitk", "limit_ratio"}
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "atan2"}


def tokens(expr):
    pos = 0
    out = []
    while pos < len(expr):
        m = TOKEN.match(expr, pos)
        if not m:
            raise ValueError(f"cannot tokenize at {expr[pos:pos + 20]!r}")
        pos = m.end()
        if m.lastgroup != "ws":
            out.append((m.lastgroup, m.group()))
    return out


def unquote(s):
    if s.startswith("`"):
        return s[1:-1]
    if s.startswith("'"):
        s = '"' + s[1:-1].replace('"', '\\"') + '"'
    return json.loads(s)


def selectors(expr):
    """(metric name or None, [(label, op, value)]) for every vector selector in expr."""
    toks = tokens(expr)
    out = []
    i = 0

    def skip_parens(j):
        depth = 0
        while j < len(toks):
            if toks[j][1] == "(":
                depth += 1
            elif toks[j][1] == ")":
                depth -= 1
                if depth == 0:
                    return j + 1
            j += 1
        return j

    def matchers(j):
        found = []
        while j < len(toks) and toks[j][1] != "}":
            if toks[j][0] in ("ident", "str") and j + 2 < len(toks) and toks[j + 1][1] in ("=", "!=", "=~", "!~"):
                label = toks[j][1] if toks[j][0] == "ident" else unquote(toks[j][1])
                found.append((label, toks[j + 1][1], unquote(toks[j + 2][1])))
                j += 3
            else:
                j += 1
        return found, j + 1

    while i < len(toks):
        kind, val = toks[i]
        nxt = toks[i + 1][1] if i + 1 < len(toks) else None
        if kind == "ident":
            low = val.lower()
            if low in GROUPING:
                i = skip_parens(i + 1) if nxt == "(" else i + 1
                continue
            if low in KEYWORDS or low in AGGREGATIONS or nxt == "(":
                i += 1
                continue
            if nxt == "{":
                found, i = matchers(i + 2)
            else:
                found, i = [], i + 1
            out.append((val, found))
            continue
        if val == "{":
            found, i = matchers(i + 1)
            name = next((v for (lab, o, v) in found if lab == "__name__" and o == "="), None)
            out.append((name, [m for m in found if m[0] != "__name__"]))
            continue
        i += 1
    return out


def selector_text(name, found):
    inner = ",".join(f"{lab}{op}{json.dumps(v)}" for lab, op, v in found)
    return f"{name}{{{inner}}}"


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
        with open(path, encoding="utf-8") as f:
            dash = json.load(f)
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


# ---------------------------------------------------------------- Prometheus API


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


# ---------------------------------------------------------------- phase: promql


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
    with open(os.path.join(REPO, "deploy/prometheus/prometheus.yml"), encoding="utf-8") as f:
        jobs_deploy = set(re.findall(r"^\s*-\s*job_name:\s*['\"]?([A-Za-z0-9_.-]+)", f.read(), re.M))
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
    with open(os.path.join(REPO, "deploy/prometheus/alerts.yml"), encoding="utf-8") as f:
        declared = re.findall(r"^\s*-?\s*(alert|record):\s*(\S+)", f.read(), re.M)
    rules = []
    for g in prom_get("/api/v1/rules")["data"]["groups"]:
        for rule in g["rules"]:
            rules.append(rule)
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
    with open(os.path.join(REPO, "deploy/alloy/config.alloy"), encoding="utf-8") as f:
        alloy = f.read()
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


# ---------------------------------------------------------------- phase: outage


def port_open(url):
    u = urllib.parse.urlsplit(url)
    try:
        with socket.create_connection((u.hostname, u.port), timeout=1):
            return True
    except OSError:
        return False


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
    state["outage_status"] = r.status
    r = request(URLS["gateway"], "GET", "/ready")
    R.check(r.status == 503, f"gateway /ready while follow-service is down -> {r.status}")
    gw = Snapshot.__new__(Snapshot)
    gw.text = {"gateway": scrape("gateway")}
    gw.samples = {"gateway": parse_metrics(gw.text["gateway"])}
    d = gw.total("gateway", "upstream_requests_total", upstream="follow-service", outcome="~unavailable|timeout") \
        - before.total("gateway", "upstream_requests_total", upstream="follow-service",
                       outcome="~unavailable|timeout")
    R.check(d >= 1, f"gateway: upstream_requests_total{{upstream=follow-service,outcome=unavailable}} +{d:g}")
    d = gw.total("gateway", "http_requests_total", route="/fllws/{username}", status="~5..") \
        - before.total("gateway", "http_requests_total", route="/fllws/{username}", status="~5..")
    R.check(d >= 1, f"gateway: http_requests_total{{route=/fllws/{{username}},status=5xx}} +{d:g}")

    rule = state.get("rules", {}).get("MinitwitServiceDown")
    if R.check(rule is not None, "alert MinitwitServiceDown is loaded"):
        deadline = time.monotonic() + 20
        jobs, alert_state = [], None
        while time.monotonic() < deadline:
            doc = query(rule["query"])
            jobs = [s["metric"].get("job") for s in doc.get("data", {}).get("result", [])]
            for g in prom_get("/api/v1/rules")["data"]["groups"]:
                for ru in g["rules"]:
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


# ---------------------------------------------------------------- phase: logs

TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)$")
LEVELS = {"TRCE", "DEBG", "INFO", "WARN", "ERRO", "CRIT"}


def phase_logs():
    R.start("logs")
    time.sleep(1.5)  # slog_async flushes shortly after
    lines = {}
    for p in PROCESSES:
        with open(os.path.join(WORK, f"{p}.log"), encoding="utf-8", errors="replace") as f:
            lines[p] = f.read().splitlines()
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
            path = os.path.join(WORK, f"{p}.{suffix}")
            with open(path, encoding="utf-8", errors="replace") as f:
                texts[f"{p} {'stdout' if suffix == 'log' else 'stderr'}"] = f.read()
    live = [p for p in PROCESSES if p != "follow-service"]
    for p in live:
        texts[f"{p} /metrics"] = scrape(p)
    for label, secret in sorted(secrets.items()):
        hits = [where for where, text in texts.items() if secret and secret in text]
        R.check(not hits, f"no {label} in any log line or /metrics", f"found in {hits}")
    for p in PROCESSES:
        err = texts[f"{p} stderr"].strip()
        R.check(not err, f"{p}: nothing on stderr (logs are JSON on stdout)", err[:300])


# ---------------------------------------------------------------- main


def main():
    if PROMQL_ONLY:
        try:
            phase_promql()
        except Exception as e:  # a crash is a failure, with the summary still printed
            import traceback
            traceback.print_exc()
            R.check(False, f"{type(e).__name__}: {e}")
        return 0 if R.summary() else 1
    try:
        before = Snapshot()
        expected = phase_traffic()
        time.sleep(0.3)
        after = Snapshot()
        phase_metrics(before, after, expected)
        phase_load()
        phase_promql()
        phase_outage()
        phase_logs()
    except Exception as e:  # a crash is a failure, with the summary still printed
        import traceback
        traceback.print_exc()
        R.check(False, f"{type(e).__name__}: {e}")
    return 0 if R.summary() else 1


if __name__ == "__main__":
    sys.exit(main())
