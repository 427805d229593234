"""Requests through the gateway: as the simulator (JSON, its Authorization value) and as a
browser (forms and pages, with the session cookie)."""

import json
import urllib.parse

from .config import SIM_AUTH, URLS
from .net import request


def _send(method, path, headers, body=None, rid=None, cookie=None, extra=None):
    """To the gateway, with our X-Request-Id and the session cookie where given, then `extra`."""
    if rid:
        headers["X-Request-Id"] = rid
    if cookie:
        headers["Cookie"] = cookie
    headers.update(extra or {})
    return request(URLS["gateway"], method, path, headers, body)


def sim(method, path, rid=None, body=None, auth=True, extra=None):
    headers = {}
    if auth:
        headers["Authorization"] = SIM_AUTH
    if body is not None:
        headers["Content-Type"] = "application/json"
        body = json.dumps(body)
    return _send(method, path, headers, body, rid, extra=extra)


def form(path, fields, rid=None, cookie=None):
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return _send("POST", path, headers, urllib.parse.urlencode(fields), rid, cookie)


def page(path, rid=None, cookie=None):
    return _send("GET", path, {}, None, rid, cookie)
