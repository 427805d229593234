#!/usr/bin/env python3
"""Draws the load steps of `make bench` as an SVG: p50 and p99 against the offered rate.

    plot.py OUT.svg DIR LABEL[=NAME]...

For each LABEL, the files DIR/LABEL-step-<rate>.json that `minitwit-sim load` wrote (one
per step of scripts/bench.sh's step_up) give one line for p50 (solid) and one for p99
(dashed), in one colour, named NAME (default LABEL). A step with errors is a hollow
circle. The latency axis is logarithmic; the dotted line is the p99 limit a held rate
must stay under. Standard library only: the figure is plain SVG text, so a change to
it shows in a diff.
"""

import glob
import json
import math
import os
import re
import sys

WIDTH, HEIGHT = 720, 420
LEFT, RIGHT, TOP, BOTTOM = 70, 190, 30, 50
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]
P99_LIMIT_MS = 100.0


def steps(directory, label):
    """[(rate, p50 ms, p99 ms, errors)] of one label, by rate."""
    found = []
    for path in glob.glob(os.path.join(directory, f"{label}-step-*.json")):
        match = re.search(r"-step-(\d+)\.json$", path)
        if not match:
            continue
        with open(path, encoding="utf-8") as f:
            run = json.load(f)
        latency = run["total"]["latency"]
        errors = run.get("errors", 0) + run.get("setup", {}).get("errors", 0)
        found.append((int(match.group(1)), latency["p50_ms"], latency["p99_ms"], errors))
    return sorted(found)


def nice_decades(low, high):
    """The powers of ten that frame [low, high] on a log axis."""
    first = math.floor(math.log10(max(low, 0.01)))
    last = math.ceil(math.log10(max(high, low * 10)))
    return [10.0**e for e in range(first, last + 1)]


def draw(series):
    """The SVG text for [(name, colour, steps)]."""
    points = [s for _, _, st in series for s in st]
    rates = [p[0] for p in points]
    latencies = [v for p in points for v in (p[1], p[2])] + [P99_LIMIT_MS]
    x_max = max(rates) * 1.05
    ticks_y = nice_decades(min(latencies), max(latencies))
    y_low, y_high = math.log10(ticks_y[0]), math.log10(ticks_y[-1])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(rate):
        return LEFT + plot_w * rate / x_max

    def y(ms):
        return TOP + plot_h * (1 - (math.log10(max(ms, ticks_y[0])) - y_low) / (y_high - y_low))

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{LEFT}" y="18" font-size="14">Latency against the offered rate '
        "(make bench, the simulator mix)</text>",
    ]
    for ms in ticks_y:
        out.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(ms):.1f}" y2="{y(ms):.1f}" stroke="#ddd"/>')
        label = f"{ms:g} ms"
        out.append(f'<text x="{LEFT - 6}" y="{y(ms) + 4:.1f}" text-anchor="end">{label}</text>')
    step = 500 if x_max <= 8000 else 1000
    for rate in range(0, int(x_max) + 1, step):
        out.append(f'<line x1="{x(rate):.1f}" x2="{x(rate):.1f}" y1="{TOP}" y2="{TOP + plot_h}" stroke="#eee"/>')
        out.append(f'<text x="{x(rate):.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">{rate}</text>')
    out.append(
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 10}" text-anchor="middle">offered rate (requests a second)</text>'
    )
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#444"/>')
    limit_y = y(P99_LIMIT_MS)
    out.append(
        f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{limit_y:.1f}" y2="{limit_y:.1f}" '
        'stroke="#444" stroke-dasharray="2,3"/>'
    )
    out.append(f'<text x="{LEFT + plot_w - 4}" y="{limit_y - 4:.1f}" text-anchor="end">p99 limit</text>')
    for n, (name, colour, st) in enumerate(series):
        for index, dash in ((1, ""), (2, ' stroke-dasharray="6,4"')):
            path = " ".join(f"{x(p[0]):.1f},{y(p[index]):.1f}" for p in st)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
            for p in st:
                fill = "white" if p[3] else colour
                out.append(f'<circle cx="{x(p[0]):.1f}" cy="{y(p[index]):.1f}" r="3.5" fill="{fill}" stroke="{colour}"/>')
        ly = TOP + 10 + n * 36
        lx = LEFT + plot_w + 14
        out.append(f'<line x1="{lx}" x2="{lx + 24}" y1="{ly}" y2="{ly}" stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{lx + 30}" y="{ly + 4}">{name} p50</text>')
        out.append(
            f'<line x1="{lx}" x2="{lx + 24}" y1="{ly + 16}" y2="{ly + 16}" stroke="{colour}" '
            'stroke-width="2" stroke-dasharray="6,4"/>'
        )
        out.append(f'<text x="{lx + 30}" y="{ly + 20}">{name} p99</text>')
    ly = TOP + 10 + len(series) * 36
    out.append(f'<circle cx="{LEFT + plot_w + 26}" cy="{ly}" r="3.5" fill="white" stroke="#444"/>')
    out.append(f'<text x="{LEFT + plot_w + 44}" y="{ly + 4}">step with errors</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv):
    if len(argv) < 4:
        sys.exit(__doc__)
    target, directory = argv[1], argv[2]
    series = []
    for spec in argv[3:]:
        label, _, name = spec.partition("=")
        st = steps(directory, label)
        if st:
            series.append((name or label, COLOURS[len(series) % len(COLOURS)], st))
    if not series:
        sys.exit(f"plot.py: no step results in {directory} for {' '.join(argv[3:])}")
    with open(target, "w", encoding="utf-8") as f:
        f.write(draw(series))


if __name__ == "__main__":
    main(sys.argv)
