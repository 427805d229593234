"""The processes' /metrics: parsed into samples, snapshots of them, sums and deltas."""

import re

from .config import PROCESSES, URLS
from .net import request

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
    def __init__(self, processes=PROCESSES):
        self.text = {p: scrape(p) for p in processes}
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

    def delta(self, before, process, name, **want):
        """How much the total moved since the snapshot `before`."""
        return self.total(process, name, **want) - before.total(process, name, **want)


def _match(value, want):
    if value is None:
        return False
    if want.startswith("~"):
        return re.fullmatch(want[1:], value) is not None
    return value == want
