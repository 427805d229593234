"""Phase traffic: scripted requests through the gateway (simulator API and web UI), each
with an X-Request-Id of our own, with the secrets we later hunt for.

Returns the counts the metrics phase expects the counters to have moved by; leaves in
shared.state the request ids the logs phase looks for, the session cookie and `latest`.
"""

import json

from .config import RUN
from .gateway import form, page, sim
from .net import q
from .report import R
from .shared import SIM_PASSWORDS, USERS, WEB_PASSWORD, WEB_USER, WRONG_AUTH, WRONG_PASSWORD, rid, state


def expect(resp, codes, what):
    codes = codes if isinstance(codes, (list, tuple, set)) else [codes]
    ok = resp.status in codes
    R.check(ok, f"{what} -> {resp.status}", "" if ok else f"expected {codes}: {resp.text()[:300]}")
    return ok


def session_cookies(resp):
    """The values of the minitwit_session cookies an answer sets (none empty)."""
    values = []
    for sc in resp.all("Set-Cookie"):
        name, _, rest = sc.partition("=")
        value = rest.split(";", 1)[0]
        if name.strip() == "minitwit_session" and value:
            values.append(value)
    return values


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
    for value in session_cookies(r):
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
    state["cookie_values"].extend(session_cookies(r))  # flash messages re-issue the cookie

    t.update(posts=posts, follows=follows, fllws_posts=fllws_posts, registered=len(USERS) + 1)
    return t
