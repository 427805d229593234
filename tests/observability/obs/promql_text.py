"""PromQL as text: a tokenizer good enough to find every vector selector of an expression
(metric name and label matchers), and a selector written back as text."""

import json
import re

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
