#!/usr/bin/env python3
"""The checks of tests/observability.sh, against processes that script started.

The entry point: it runs the phases of the package obs/ (next to this file) in order and
prints the summary; the exit status is 0 when every check passed. obs/__init__.py lists
the phases and the helpers, obs/config.py the environment it reads. OBS_PHASES=promql
runs the promql phase alone (the cluster test, against the stack's own Prometheus).
"""

import sys
import time
import traceback

from obs.config import PROMQL_ONLY
from obs.load import phase_load
from obs.logs import phase_logs
from obs.metrics import phase_metrics
from obs.outage import phase_outage
from obs.promql import phase_promql
from obs.report import R
from obs.scrape import Snapshot
from obs.traffic import phase_traffic


def main():
    try:
        if PROMQL_ONLY:
            phase_promql()
        else:
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
        traceback.print_exc()
        R.check(False, f"{type(e).__name__}: {e}")
    return 0 if R.summary() else 1


if __name__ == "__main__":
    sys.exit(main())
