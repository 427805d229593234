"""Phase load: ~20 s (OBS_LOAD_SECONDS) of mixed traffic from four threads (some 4xx on
purpose) while Prometheus scrapes, so that the rates and histograms the promql phase
queries have data."""

import http.client
import random
import threading
import time

from .config import LOAD_SECONDS, RUN
from .gateway import form, page, sim
from .net import q
from .report import R
from .shared import USERS, WRONG_AUTH, rid, state


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
        rid_hdr = {} if n % 3 else {"X-Request-Id": rid(f"load-{threading.get_ident()}-{n}")}
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
