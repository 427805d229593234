"""The checks of tests/observability.sh, one module per job; ../check.py runs them.

Standard library only (the cluster test runs the promql phase inside the Prometheus
container). The phases, in the order check.py runs them; each module's docstring says
what it checks:

  traffic.py      scripted requests through the gateway, our own request ids and secrets
  metrics.py      /metrics of all four processes moved by exactly that traffic
  load.py         ~20 s of mixed traffic while Prometheus scrapes
  promql.py       every dashboard and rule expression through Prometheus's HTTP API
  outage.py       follow-service stopped: the gateway's answers, metrics and the alert
  logs.py         JSON log lines, request ids across processes, no secret anywhere

What they share:

  config.py       the environment (OBS_*, see there; OBS_PHASES=promql for promql alone)
  report.py       R: the ok/FAIL lines, the summary and so the exit status
  net.py          one HTTP request on a fresh connection; URL quoting; port probing
  gateway.py      requests through the gateway as the simulator and as a browser
  shared.py       this run's users, secrets and request ids; the state phases hand on
  scrape.py       the processes' /metrics parsed, snapshots and deltas
  prometheus.py   Prometheus's HTTP API: queries, rules, "has data"
  promql_text.py  the vector selectors (metric, label matchers) of a PromQL expression
  dashboards.py   the Prometheus expressions of the Grafana dashboards
"""
