"""Requests through the gateway: as the simulator (JSON, its Authorization value) and as a
browser (forms and pages, with the session cookie)."""

import json
import urllib.parse

from .config import SIM_AUTH, URLS
from .net import request


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
