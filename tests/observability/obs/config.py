"""The configuration, from the environment (set by tests/observability.sh), read once.

  OBS_REPO, OBS_WORK, OBS_RUN, OBS_GATEWAY/OBS_USER/OBS_MESSAGE/OBS_FOLLOW (base URLs),
  OBS_PROMETHEUS (base URL), OBS_FOLLOW_PID, OBS_SIM_AUTH_FILE, OBS_SESSION_KEY_FILE,
  OBS_DB_PASSWORD (may be empty), OBS_LOAD_SECONDS, OBS_ALLOW_LIST.

OBS_PHASES=promql runs the promql phase alone, against any Prometheus that scrapes the
MiniTwit jobs (the cluster test: the stack's own, with no-data-ok-stack.txt); it needs
only OBS_REPO (the files it reads), OBS_PROMETHEUS and OBS_ALLOW_LIST.
"""

import os


def read_text(path, errors=None):
    """The whole of a UTF-8 text file (errors="replace" for files processes write)."""
    with open(path, encoding="utf-8", errors=errors) as f:
        return f.read()


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
    SIM_AUTH = read_text(ENV["OBS_SIM_AUTH_FILE"]).strip()
    SESSION_KEY = read_text(ENV["OBS_SESSION_KEY_FILE"]).strip()
