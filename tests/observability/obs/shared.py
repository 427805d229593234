"""What the phases hand each other: this run's users and secrets (the logs phase hunts for
the secrets), our request ids and the state the traffic leaves behind."""

import base64
import os

from .config import RUN

USERS = [f"Obs Ada {RUN}", f"Obs Grace {RUN}", f"Obs Linus {RUN}"]
WEB_USER = f"obs_web_{RUN}"
SIM_PASSWORDS = {u: f"SimPw-{os.urandom(6).hex()}-{i}" for i, u in enumerate(USERS)}
WEB_PASSWORD = f"WebPw-{os.urandom(8).hex()}"
WRONG_PASSWORD = f"WrongPw-{os.urandom(8).hex()}"
WRONG_AUTH = "Basic " + base64.b64encode(f"intruder:{os.urandom(6).hex()}".encode()).decode()

state = {
    "rids": {},  # rid -> (description, {processes whose log must carry it})
    "cookie_values": [],  # every minitwit_session value the gateway set: secrets too
    "latest": None,  # the simulator's `latest`, as the gateway must report it
    # set later: "cookie" (traffic: the web user's Cookie header for the load),
    # "rules" (promql: Prometheus's rules by name, for the outage)
}


def rid(name):
    return f"obs-{RUN}-{name}"
