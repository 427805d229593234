"""Backup round trip on a real PostgreSQL, through the real binaries, into an S3 peer
(moto's server over TLS with a test CA: the production path, rclone to
s3://BUCKET/PREFIX, configured only by the settings an operator also has). What is
tested are the project's own deploy/backup/backup.sh and restore.sh.

  1. the bucket's expiry rule (terraform/spaces.tf) watches the prefix the stack
     writes under (docker-stack.yml, terraform's outputs): checked statically, since
     the test server does not run lifecycle rules;
  2. create three fresh databases, start user-, message-, follow-service and the
     gateway on free ports against them; through the simulator API register users,
     post messages, follow, record a `latest` value (the "before" snapshot);
  3. backup.sh --schedule (as the swarm service runs it) makes its start-up backup:
     every dump lands under PREFIX/<today>/, the textfile for node-exporter says so,
     and backup.sh's own pruning removed the day folders older than its retention
     (seeded beforehand) but kept the newest BACKUP_MIN_KEEP_DAYS;
  4. write more data (which the restore must undo), stop the services, DROP the
     three databases; restore.sh --yes from the bucket: every table's row digest
     equals the one taken at the backup, and the API shows the "before" snapshot;
  5. the S3 peer stopped: backup.sh --once fails, records the failure and keeps the
     last success, and the real Prometheus (alerts.yml, node-exporter's textfile
     collector as in the stack) fires MinitwitBackupFailing;
  6. the scheduled start-up run waits for a PostgreSQL that answers only later;
  7. the file:// target (a mounted disk) still stores and lists a backup.

One test per check, named test_<step>_...; they run in file order against one running
system. Each step's actions are a module fixture (run once, before the step's first
check), each depending on the step before it where the order matters, so `-k` can pick
any check.

Environment: BIN_DIR (target/debug) holds the binaries; MINITWIT_TEST_DATABASE_URL
(postgres://postgres@127.0.0.1:5432/postgres) is an admin connection; MOTO_VENV
(target/moto-venv) holds moto's server. tests/backup/run.sh installs what is missing
(rclone, Prometheus, node-exporter, moto, pytest) and runs this module.
"""

import difflib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import socketserver
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]


def _repo_path(value):
    path = Path(value)
    return path if path.is_absolute() else REPO / path


BIN_DIR = _repo_path(os.environ.get("BIN_DIR", "target/debug"))
ADMIN_URL = os.environ.get("MINITWIT_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
MOTO_VENV = _repo_path(os.environ.get("MOTO_VENV", "target/moto-venv"))

AUTH = "Basic c2ltdWxhdG9yOnN1cGVyX3NhZmUh"
SERVICES = ["user-service", "message-service", "follow-service", "gateway"]
USERS = ["Backup Ada", "Backup Grace", "Backup Linus"]
BUCKET = "minitwit-backups"
BACKUP_SH = REPO / "deploy/backup/backup.sh"
RESTORE_SH = REPO / "deploy/backup/restore.sh"
BACKUP_LIB = REPO / "deploy/backup/backup-lib.sh"


# ---- small helpers ------------------------------------------------------------------------


def free_ports(n):
    """n free TCP ports on 127.0.0.1 (bound at once so they differ, then released)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def day_ago(n):
    """The UTC date n days ago, YYYY-MM-DD (as `date -u -d "-n days" +%F`)."""
    return (datetime.now(timezone.utc) - timedelta(days=n)).strftime("%Y-%m-%d")


def diff(before, after, before_name, after_name):
    """A unified diff of two lists of lines, for a failure message."""
    return "\n".join(difflib.unified_diff(before, after, before_name, after_name, lineterm=""))


def tail(path, lines=15):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError as e:
        return f"({e})"


@dataclass
class Result:
    rc: int
    out: str  # stdout, with stderr when merged
    err: str
    seconds: float


def run(cmd, env, *, merge=True, timeout=300):
    """Runs cmd (in a process group of its own, all of it killed on a time-out)."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [str(c) for c in cmd],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge else subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"{' '.join(map(str, cmd))} did not finish within {timeout} s; its output:\n{out}{err or ''}")
    return Result(proc.returncode, out, err or "", time.monotonic() - started)


def stop_group(proc, timeout=15):
    """SIGTERM to a process started with start_new_session=True and to everything else in
    its group (backup.sh --schedule's sleep would outlive it), then waits for it."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def stop(proc, timeout=15):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def call(url, *, method="GET", headers=None, data=None, timeout=10, context=None):
    """(status, body bytes); an HTTP error status is an answer too."""
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def read_metrics(path):
    """name -> value (as written) of a Prometheus textfile; {} when it is not there."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return {}
    metrics = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and not line.startswith("#"):
            metrics[fields[0]] = fields[1]
    return metrics


def tf_default(variable):
    """The default of a variable in terraform/variables.tf, without quotes (None if none)."""
    found = False
    for line in (REPO / "terraform/variables.tf").read_text().splitlines():
        if line.startswith(f'variable "{variable}"'):
            found = True
        fields = line.split()
        if found and fields and fields[0] == "default":
            return fields[2].replace('"', "") if len(fields) > 2 else ""
    return None


class Forwarder:
    """A TCP forwarder from 127.0.0.1:port to host:target (PostgreSQL "appearing" late)."""

    def __init__(self, port, host, target):
        def copy(src, dst):
            try:
                while data := src.recv(65536):
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass

        class Pipe(socketserver.BaseRequestHandler):
            def handle(self):
                with socket.create_connection((host, target)) as upstream:
                    back = threading.Thread(target=copy, args=(upstream, self.request), daemon=True)
                    back.start()
                    copy(self.request, upstream)
                    back.join()

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server(("127.0.0.1", port), Pipe)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# ---- the running system ----------------------------------------------------------------------


class System:
    """PostgreSQL settings, the S3 peer, node-exporter, Prometheus and the four services,
    all in one temporary work directory."""

    def __init__(self, report):
        self.report = report
        self.work = Path(tempfile.mkdtemp(prefix="minitwit-backup-test."))
        self.services = []  # the MiniTwit services (Popen)
        self.aux = []  # node-exporter, Prometheus
        self.moto = None

        # PG* variables from the admin URL, for psql and the backup scripts.
        url = urlsplit(ADMIN_URL)
        self.env = dict(os.environ)
        self.env.update(
            PGHOST=url.hostname or "127.0.0.1",
            PGPORT=str(url.port or 5432),
            PGUSER=unquote(url.username or "postgres"),
        )
        if url.password:
            self.env["PGPASSWORD"] = unquote(url.password)

        suffix = f"{int(time.time())}_{os.getpid()}"
        self.db_users = f"mt_backup_users_{suffix}"
        self.db_messages = f"mt_backup_messages_{suffix}"
        self.db_follows = f"mt_backup_follows_{suffix}"
        self.databases = [self.db_users, self.db_messages, self.db_follows]

        (self.port_user, self.port_message, self.port_follow, self.port_gateway,
         self.port_s3, self.port_node, self.port_prom) = free_ports(7)
        self.gateway = f"http://127.0.0.1:{self.port_gateway}"
        self.prefix = tf_default("backup_prefix")

    # -- PostgreSQL

    def psql(self, db, sql):
        """psql -X -Atq -d DB -c SQL; its output (failing with psql's error)."""
        r = run(["psql", "-X", "-Atq", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql], self.env, merge=False, timeout=60)
        if r.rc != 0:
            raise AssertionError(f"psql -d {db} -c {sql!r} failed (exit {r.rc}): {r.err.strip()}")
        return r.out

    def admin(self, sql):
        return self.psql("postgres", sql)

    def databases_left(self):
        names = ", ".join(f"'{db}'" for db in self.databases)
        return int(self.admin(f"SELECT count(*) FROM pg_database WHERE datname IN ({names})").strip())

    def digests(self):
        """One line per table of each database, "table|rows|md5 of the rows", in order."""
        lines = []
        for db in self.databases:
            lines.append(f"== {db}")
            tables = self.psql(db, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1").split()
            for table in tables:
                lines.append(
                    self.psql(
                        db,
                        f"SELECT '{table}', count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) "
                        f'FROM "{table}" t',
                    ).strip()
                )
        return lines

    # -- the services

    def start_services(self):
        user = quote(self.env["PGUSER"], safe="")
        if self.env.get("PGPASSWORD"):
            user += ":" + quote(self.env["PGPASSWORD"], safe="")

        def db_url(db):
            return f"postgres://{user}@{self.env['PGHOST']}:{self.env['PGPORT']}/{db}"

        (self.work / "sim_authorization").write_text(AUTH + "\n")
        settings = {
            "user-service": {
                "USER_SERVICE_HTTP__PORT": self.port_user,
                "USER_SERVICE_LOG__FORMAT": "json",
                "USER_SERVICE_DATABASE__URL": db_url(self.db_users),
            },
            "message-service": {
                "MESSAGE_SERVICE_HTTP__PORT": self.port_message,
                "MESSAGE_SERVICE_LOG__FORMAT": "json",
                "MESSAGE_SERVICE_DATABASE__URL": db_url(self.db_messages),
            },
            "follow-service": {
                "FOLLOW_SERVICE_HTTP__PORT": self.port_follow,
                "FOLLOW_SERVICE_LOG__FORMAT": "json",
                "FOLLOW_SERVICE_DATABASE__URL": db_url(self.db_follows),
            },
            "gateway": {
                "GATEWAY_HTTP__PORT": self.port_gateway,
                "GATEWAY_LOG__FORMAT": "json",
                "GATEWAY_SERVICES__USER_URL": f"http://127.0.0.1:{self.port_user}",
                "GATEWAY_SERVICES__MESSAGE_URL": f"http://127.0.0.1:{self.port_message}",
                "GATEWAY_SERVICES__FOLLOW_URL": f"http://127.0.0.1:{self.port_follow}",
                "GATEWAY_SIM__AUTHORIZATION_FILE": str(self.work / "sim_authorization"),
            },
        }
        for name in SERVICES:
            env = dict(self.env, RUST_BACKTRACE="1", **{k: str(v) for k, v in settings[name].items()})
            with open(self.work / f"{name}.log", "ab") as log:
                self.services.append(
                    subprocess.Popen([BIN_DIR / name], env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
                )
        for port in (self.port_user, self.port_message, self.port_follow, self.port_gateway):
            deadline = time.monotonic() + 60
            while True:
                try:
                    if call(f"http://127.0.0.1:{port}/ready", timeout=2)[0] < 400:
                        break
                except (OSError, http.client.HTTPException):
                    pass
                assert time.monotonic() < deadline, f"the process on port {port} should be ready within 60 s"
                time.sleep(0.2)

    def stop_services(self):
        for proc in self.services:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.services:
            stop(proc)
        self.services = []

    # -- the simulator API

    def sim(self, method, path, body=None):
        headers = {"Authorization": AUTH, "Connection": "close"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        return call(self.gateway + path, method=method, headers=headers, data=data)

    def expect(self, want, method, path, body=None):
        """The answer's body; fails unless the status is want."""
        got, answer = self.sim(method, path, body)
        assert got == want, f"{method} {path} should answer {want}, answered {got}: {answer[:300]!r}"
        return answer

    def snapshot(self):
        """Everything the API shows about the data (follows sorted)."""
        snap = {
            "latest": json.loads(self.expect(200, "GET", "/latest")),
            "public": json.loads(self.expect(200, "GET", "/msgs?no=100")),
        }
        for user in USERS:
            enc = quote(user, safe="")
            snap[f"msgs {user}"] = json.loads(self.expect(200, "GET", f"/msgs/{enc}?no=100"))
            follows = json.loads(self.expect(200, "GET", f"/fllws/{enc}?no=100"))
            follows["follows"] = sorted(follows["follows"])
            snap[f"fllws {user}"] = follows
        return snap

    # -- the S3 peer, node-exporter, Prometheus

    def start_moto(self):
        pki = self.work / "pki"
        # the test CA and the server's certificate, as every TLS test makes them
        subprocess.run(
            ["bash", "-c", '. tests/lib/certs.sh && test_ca "$1" && test_cert "$1" s3 "DNS:localhost,IP:127.0.0.1" serverAuth',
             "certs", str(pki)],
            cwd=REPO, check=True,
        )
        self.ca = pki / "ca.pem"
        self.s3_endpoint = f"https://127.0.0.1:{self.port_s3}"
        with open(self.work / "moto.log", "wb") as log:
            self.moto = subprocess.Popen(
                [MOTO_VENV / "bin/moto_server", "-H", "127.0.0.1", "-p", str(self.port_s3),
                 "-c", pki / "s3.pem", "-k", pki / "s3-key.pem"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            )
        context = ssl.create_default_context(cafile=str(self.ca))
        deadline = time.monotonic() + 30
        while True:  # any HTTP answer will do; the test CA must accept the certificate
            try:
                call(self.s3_endpoint + "/", timeout=2, context=context)
                break
            except OSError:
                pass
            assert self.moto.poll() is None and time.monotonic() < deadline, (
                f"moto_server should answer on {self.s3_endpoint}/ within 30 s; its log:\n{tail(self.work / 'moto.log', 20)}"
            )
            time.sleep(0.2)
        return context

    def stop_moto(self):
        if self.moto is not None:
            stop(self.moto)
            self.moto = None

    def bucket(self, *args):
        """rclone on the bucket's root, with the remote backup-lib.sh defines; its output."""
        r = run(["bash", "-c", '. "$1"; shift; store_init; rclone -q "$@"', "bucket", BACKUP_LIB, *args],
                self.env, merge=False, timeout=120)
        assert r.rc == 0, f"rclone {' '.join(map(str, args))} should succeed (exit {r.rc}): {r.err.strip()}"
        return r.out

    def start_monitoring(self):
        (self.work / "textfile").mkdir()
        with open(self.work / "node-exporter.log", "wb") as log:
            self.aux.append(subprocess.Popen(
                ["/usr/bin/prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{self.port_node}",
                 "--no-collector.systemd", f"--collector.textfile.directory={self.work / 'textfile'}"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            ))
        (self.work / "prometheus.yml").write_text(
            "global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}\n"
            f"rule_files: ['{REPO / 'deploy/prometheus/alerts.yml'}']\n"
            "scrape_configs:\n"
            "  - job_name: node-exporter\n"
            f"    static_configs: [{{targets: ['127.0.0.1:{self.port_node}']}}]\n"
        )
        with open(self.work / "prometheus.log", "wb") as log:
            self.aux.append(subprocess.Popen(
                ["/usr/bin/prometheus", f"--config.file={self.work / 'prometheus.yml'}",
                 f"--storage.tsdb.path={self.work / 'prometheus-data'}",
                 f"--web.listen-address=127.0.0.1:{self.port_prom}"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            ))

    def alert_state(self, name):
        """firing, pending or inactive, as Prometheus has it now."""
        status, body = call(f"http://127.0.0.1:{self.port_prom}/api/v1/alerts", timeout=5)
        assert status == 200, f"Prometheus's /api/v1/alerts should answer 200, answered {status}: {body[:300]!r}"
        states = [a["state"] for a in json.loads(body)["data"]["alerts"] if a["labels"].get("alertname") == name]
        return states[0] if states else "inactive"

    def metrics(self, textfile_dir="textfile"):
        return read_metrics(self.work / textfile_dir / "minitwit_backup.prom")

    # -- the scripts under test

    def backup(self, *args, timeout=300, **env):
        return run([BACKUP_SH, *args], dict(self.env, **env), timeout=timeout)

    def restore(self, *args, timeout=300, **env):
        return run([RESTORE_SH, *args], dict(self.env, **env), merge=False, timeout=timeout)

    # -- the end

    def close(self, failed):
        self.stop_services()
        self.stop_moto()
        for proc in self.aux:
            stop(proc)
        for db in self.databases:
            try:
                self.admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            except AssertionError:
                pass
        if failed:
            for name in SERVICES:
                if (self.work / f"{name}.log").exists():
                    self.report["logs"][name] = tail(self.work / f"{name}.log")
        shutil.rmtree(self.work, ignore_errors=True)


@pytest.fixture(scope="module")
def system(request, report):
    """The S3 peer (a bucket like terraform's), node-exporter and Prometheus, and the
    backup settings an operator gives the stack; torn down (databases dropped) at the end."""
    sysm = System(report)
    failed_before = request.session.testsfailed
    try:
        context = sysm.start_moto()
        (sysm.work / "s3_access_key_id").write_text("backup-key-id\n")
        (sysm.work / "s3_secret_access_key").write_text("backup-secret-key\n")
        sysm.env.update(
            BACKUP_TARGET=f"s3://{BUCKET}/{sysm.prefix}",
            S3_ENDPOINT=sysm.s3_endpoint,
            S3_REGION="us-east-1",
            S3_CA_FILE=str(sysm.ca),
            S3_ACCESS_KEY_ID_FILE=str(sysm.work / "s3_access_key_id"),
            S3_SECRET_ACCESS_KEY_FILE=str(sysm.work / "s3_secret_access_key"),
            BACKUP_DATABASES=" ".join(sysm.databases),
        )
        # The bucket terraform would make (moto checks no signatures; backup.sh never creates one).
        status, body = call(f"{sysm.s3_endpoint}/{BUCKET}", method="PUT", context=context)
        assert status < 400, f"creating the bucket should succeed, moto answered {status}: {body[:300]!r}"
        sysm.start_monitoring()
        report["notes"].append(
            f"binaries {BIN_DIR}, PostgreSQL {sysm.env['PGHOST']}:{sysm.env['PGPORT']}, S3 {sysm.s3_endpoint}"
        )
        yield sysm
    finally:
        sysm.close(failed=request.session.testsfailed > failed_before)


# ---- 1. the expiry rule watches the prefix the stack writes under -----------------------------
# terraform/variables.tf's default prefix, the lifecycle rule's prefix, the stack's
# BACKUP_TARGET default and the deploy settings terraform prints must name one folder.


def test_1_the_expiry_rule_watches_the_stacks_backup_prefix():
    prefix = tf_default("backup_prefix")
    assert prefix, "terraform/variables.tf should give backup_prefix a default"
    spaces = (REPO / "terraform/spaces.tf").read_text()
    stack = (REPO / "docker-stack.yml").read_text()
    outputs = (REPO / "terraform/outputs.tf").read_text()
    target = f"BACKUP_TARGET: s3://${{BACKUP_BUCKET:-minitwit-backups}}/${{BACKUP_PREFIX:-{prefix}}}"
    lines = {  # what each file must say, and whether it does
        'terraform/spaces.tf: the lifecycle rule\'s prefix = "${var.backup_prefix}/"':
            re.search(r'^ *prefix *= "\$\{var\.backup_prefix\}/"$', spaces, re.M),
        "terraform/spaces.tf: the expiration's days = var.backup_retention_days":
            re.search(r"^ *days = var\.backup_retention_days$", spaces, re.M),
        f"docker-stack.yml: the backup service's {target}": re.search(re.escape(target) + "$", stack, re.M),
        "terraform/outputs.tf: the deploy settings' BACKUP_PREFIX=${var.backup_prefix}":
            re.search(r"^ *BACKUP_PREFIX=\$\{var\.backup_prefix\}$", outputs, re.M),
    }
    missing = [what for what, found in lines.items() if not found]
    assert missing == [], f"the rule and the stack should name one prefix ('{prefix}/'); these lines are missing"


def test_1_the_expiry_rule_keeps_dumps_at_least_as_long_as_backup_sh():
    rule_days = tf_default("backup_retention_days")
    found = re.findall(r'^ *BACKUP_RETENTION_DAYS: "([0-9]*)"$', (REPO / "docker-stack.yml").read_text(), re.M)
    assert rule_days and rule_days.isdigit(), "terraform/variables.tf should give backup_retention_days a number"
    assert found and found[0], 'docker-stack.yml should set BACKUP_RETENTION_DAYS: "<days>"'
    assert int(rule_days) >= int(found[0]), (
        f"the bucket's rule ({rule_days} days) should keep dumps at least as long as backup.sh ({found[0]} days)"
    )


# ---- 2. data through the API -------------------------------------------------------------------


@pytest.fixture(scope="module")
def data(system):
    """The three databases, the services, the data written; the "before" snapshot."""
    for db in system.databases:
        system.admin(f'CREATE DATABASE "{db}"')
    system.start_services()
    for user in USERS:
        system.expect(204, "POST", "/register?latest=1",
                      {"username": user, "email": user.replace(" ", ".") + "@example.org", "pwd": "secret1"})
    ada, grace = quote("Backup Ada", safe=""), quote("Backup Grace", safe="")
    system.expect(204, "POST", f"/msgs/{ada}?latest=2", {"content": "first message from Ada"})
    time.sleep(1)  # distinct pub_date seconds keep the order unambiguous
    system.expect(204, "POST", f"/msgs/{ada}?latest=3", {"content": 'second <b>message</b> & more, "quoted"'})
    system.expect(204, "POST", f"/msgs/{grace}?latest=4", {"content": "Grace was here"})
    system.expect(204, "POST", f"/fllws/{ada}?latest=5", {"follow": "Backup Grace"})
    system.expect(204, "POST", f"/fllws/{ada}?latest=6", {"follow": "Backup Linus"})
    system.expect(204, "POST", f"/fllws/{grace}?latest=7", {"follow": "Backup Ada"})
    system.expect(204, "POST", f"/fllws/{ada}?latest=4242", {"unfollow": "Backup Linus"})
    return system.snapshot()


def test_2_the_api_shows_the_data_written(data):
    got = {
        "latest": data["latest"].get("latest"),
        "public messages": len(data["public"]),
        "Ada's messages, newest first": [m["content"] for m in data["msgs Backup Ada"]],
        "Ada follows": data["fllws Backup Ada"]["follows"],
        "Grace follows": data["fllws Backup Grace"]["follows"],
        "Linus follows": data["fllws Backup Linus"]["follows"],
    }
    expected = {
        "latest": 4242,
        "public messages": 3,
        "Ada's messages, newest first": ['second <b>message</b> & more, "quoted"', "first message from Ada"],
        "Ada follows": ["Backup Grace"],
        "Grace follows": ["Backup Ada"],
        "Linus follows": [],
    }
    assert got == expected, "the API should show the users, messages, follows and latest value written"


# ---- 3. the scheduled backup, pruning -----------------------------------------------------------


@dataclass
class ScheduledBackup:
    digests: list
    last_success: str  # minitwit_backup_last_success_timestamp_seconds after the run
    log: str
    seconds: float


@pytest.fixture(scope="module")
def scheduled_backup(system, data, report):
    """Old day folders seeded, the row digests taken, then backup.sh --schedule's start-up
    backup (stopped once the textfile records a success, or after 120 s)."""
    # Day folders from an earlier month: retention is 14 days and the newest 3 folders are
    # always kept, so after today's backup today, yesterday's and the newest old one remain.
    old = system.work / "old.dump"
    old.write_text("old dump\n")
    for n in (1, 20, 21, 22):
        stamp = (datetime.now(timezone.utc) - timedelta(days=n)).strftime("%Y%m%dT000000Z")
        system.bucket("copyto", old, f"minitwits3:{BUCKET}/{system.prefix}/{day_ago(n)}/{system.databases[0]}_{stamp}.dump")
    digests = system.digests()

    started = time.monotonic()
    env = dict(system.env, BACKUP_RETENTION_DAYS="14", BACKUP_MIN_KEEP_DAYS="3",
               BACKUP_TEXTFILE_DIR=str(system.work / "textfile"))
    with open(system.work / "schedule.log", "wb") as log:
        schedule = subprocess.Popen([BACKUP_SH, "--schedule"], env=env, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=log, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while system.metrics().get("minitwit_backup_last_run_success") != "1" and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        stop_group(schedule)
    seconds = time.monotonic() - started
    report["notes"].append(f"backup (backup.sh --schedule's start-up run): {seconds:.0f} s")
    last_success = system.metrics().get("minitwit_backup_last_success_timestamp_seconds")
    return ScheduledBackup(digests, last_success, tail(system.work / "schedule.log", 30), seconds)


def test_3_backup_sh_schedule_ran_its_startup_backup(system, scheduled_backup):
    assert system.metrics().get("minitwit_backup_last_run_success") == "1", (
        f"the textfile should record minitwit_backup_last_run_success 1 within 120 s "
        f"(waited {scheduled_backup.seconds:.0f} s); backup.sh said:\n{scheduled_backup.log}"
    )


def test_3_the_textfile_records_the_success_time(scheduled_backup):
    last_success = scheduled_backup.last_success or "0"
    assert float(last_success) > 0, (
        f"minitwit_backup_last_success_timestamp_seconds should be a time, is {last_success}"
    )


def test_3_one_dump_and_one_sha256_per_database_under_todays_folder(system, scheduled_backup):
    today = day_ago(0)
    objects = system.bucket("lsf", "-R", "--files-only", f"minitwits3:{BUCKET}").splitlines()
    pattern = re.compile(
        rf"^{re.escape(system.prefix)}/{today}/mt_backup_[a-z]+_[0-9_]+_[0-9]{{8}}T[0-9]{{6}}Z\.dump(\.sha256)?$"
    )
    todays = [o for o in objects if pattern.match(o)]
    assert len(todays) == 6, (
        f"the bucket should hold one dump and one .sha256 per database under {system.prefix}/{today}/, "
        f"holds {todays} (all objects: {objects})"
    )


def test_3_every_object_lies_under_the_rules_prefix(system, scheduled_backup):
    objects = system.bucket("lsf", "-R", "--files-only", f"minitwits3:{BUCKET}").splitlines()
    outside = [o for o in objects if not o.startswith(f"{system.prefix}/")]
    assert outside == [], f"every object in the bucket should lie under the rule's prefix '{system.prefix}/'"


def test_3_pruning_removed_the_folders_older_than_14_days_beyond_the_newest_3(system, scheduled_backup):
    days = [d.rstrip("/") for d in system.bucket("lsf", "--dirs-only", f"minitwits3:{BUCKET}/{system.prefix}").split()]
    assert days == [day_ago(20), day_ago(1), day_ago(0)], (
        "pruning should leave the newest old folder (20 days), yesterday's and today's"
    )


def test_3_restore_sh_list_shows_the_three_dumps_of_today(system, scheduled_backup):
    r = system.restore("--list")
    today = [line for line in r.out.splitlines() if line.startswith(f"{day_ago(0)}/") and line.endswith(".dump")]
    assert len(today) == 3, f"restore.sh --list should show three dumps of today, shows {today} (exit {r.rc}: {r.err})"


def test_3_prometheus_has_minitwit_backup_failing_inactive_after_the_good_run(system, scheduled_backup):
    assert system.alert_state("MinitwitBackupFailing") == "inactive", (
        "MinitwitBackupFailing should be inactive after a good run"
    )


# ---- 4. restore from the bucket into empty databases ----------------------------------------


@pytest.fixture(scope="module")
def dropped(system, scheduled_backup):
    """Changes after the backup (the restore must take them away again); the services
    stopped and the three databases dropped."""
    system.expect(204, "POST", f"/msgs/{quote('Backup Linus', safe='')}?latest=9999",
                  {"content": "written after the backup"})
    system.expect(204, "POST", "/register", {"username": "Backup Late", "email": "late@example.org", "pwd": "secret1"})
    system.stop_services()
    for db in system.databases:
        system.admin(f'DROP DATABASE "{db}" WITH (FORCE)')


def test_4_the_three_databases_are_dropped(system, dropped):
    assert system.databases_left() == 0, "none of the three databases should be left after DROP DATABASE"


@pytest.fixture(scope="module")
def empty_run(system, dropped):
    """PostgreSQL back without its data (a volume lost): empty databases, backup.sh --once,
    then what restore.sh --list shows; the databases dropped again."""
    for db in system.databases:
        system.admin(f'CREATE DATABASE "{db}"')
        system.psql(db, "CREATE TABLE kept_empty (id int)")
    result = system.backup("--once", BACKUP_TEXTFILE_DIR=str(system.work / "textfile-empty"))
    listing = system.restore("--list")
    for db in system.databases:
        system.admin(f'DROP DATABASE "{db}" WITH (FORCE)')
    return result, listing


def test_4_empty_databases_are_not_backed_up_over_the_earlier_dumps(empty_run):
    # empty databases must not become the newest backup, or `restore.sh --date latest`
    # would restore nothing: the run fails, says why, stores nothing
    result, listing = empty_run
    assert result.rc != 0, f"backup.sh --once of empty databases should fail; it said:\n{result.out}"
    assert "has no rows but earlier backups of it exist" in result.out, (
        f"backup.sh should say an empty database has earlier backups; it said:\n{result.out}"
    )
    today = [line for line in listing.out.splitlines() if line.startswith(f"{day_ago(0)}/") and line.endswith(".dump")]
    assert len(today) == 3, f"still only the three dumps of the good run should be there, restore.sh --list shows {today}"


@dataclass
class Restored:
    result: Result
    digests: list
    digests_error: str


@pytest.fixture(scope="module")
def restored(system, empty_run, report):
    """restore.sh --yes from the bucket, then the row digests (before the services start)."""
    result = system.restore("--yes")
    report["notes"].append(f"restore (restore.sh --yes): {result.seconds:.0f} s")
    try:
        return Restored(result, system.digests(), "")
    except AssertionError as e:
        return Restored(result, [], str(e))


def test_4_restore_sh_yes_recreates_the_three_databases_from_the_bucket(restored):
    r = restored.result
    assert r.rc == 0, f"restore.sh --yes should succeed, exit {r.rc}; it said:\n{r.out}{r.err}"


def test_4_every_tables_row_digest_equals_the_one_taken_at_the_backup(scheduled_backup, restored, report):
    before = scheduled_backup.digests
    tables = [line for line in before if not line.startswith("==")]
    report["notes"].append(f"row digests compared: {len(tables)} tables")
    assert tables, "the digests at the backup should cover some tables"
    assert not restored.digests_error, f"the digests after the restore should be readable: {restored.digests_error}"
    assert restored.digests == before, (
        f"every table's row digest ({len(tables)} tables) should equal the one taken at the backup:\n"
        + diff(before, restored.digests, "at the backup", "after the restore")
    )


@pytest.fixture(scope="module")
def after(system, restored):
    """The services started again on the restored databases; the "after" snapshot."""
    system.start_services()
    return system.snapshot()


def test_4_after_the_restore_the_api_shows_exactly_the_data_of_the_backup(data, after):
    def lines(snapshot):
        return json.dumps(snapshot, indent=1, sort_keys=True).splitlines()

    assert after == data, "after the restore the API should show exactly the data of the backup:\n" + diff(
        lines(data), lines(after), "at the backup", "after the restore"
    )


def test_4_a_user_registered_after_the_backup_is_gone(system, after):
    system.expect(404, "GET", f"/msgs/{quote('Backup Late', safe='')}")


# ---- 5. the storage gone: the run fails, says so, and the alert fires -------------------------


@pytest.fixture(scope="module")
def storage_gone(system, scheduled_backup, report):
    """The S3 peer stopped; backup.sh --once."""
    system.stop_moto()
    result = system.backup("--once", BACKUP_TEXTFILE_DIR=str(system.work / "textfile"))
    report["notes"].append(f"failed run (backup.sh --once, storage down): {result.seconds:.0f} s")
    return result


def test_5_backup_sh_once_exits_non_zero_when_the_bucket_cannot_be_reached(storage_gone):
    result = storage_gone
    assert result.rc != 0, f"backup.sh --once should fail with the bucket unreachable; it said:\n{result.out}"


def test_5_the_failed_run_uploads_nothing_after_the_first_failure(storage_gone):
    result = storage_gone
    skipped = [line for line in result.out.splitlines() if "the storage failed for an earlier database" in line]
    assert len(skipped) == 2, (
        f"after the first failed upload backup.sh should skip the two other databases "
        f"(took {result.seconds:.0f} s); it said:\n{result.out}"
    )


def test_5_the_textfile_records_the_failed_run_and_keeps_the_last_success(system, scheduled_backup, storage_gone):
    last_success = scheduled_backup.last_success
    metrics = system.metrics()
    got = (metrics.get("minitwit_backup_last_run_success"), metrics.get("minitwit_backup_last_success_timestamp_seconds"))
    assert got == ("0", last_success), "the textfile should record the failed run (0) and the earlier success's time"


def test_5_prometheus_fires_minitwit_backup_failing(system, storage_gone):
    deadline = time.monotonic() + 60
    state = None
    while time.monotonic() < deadline:
        try:
            state = system.alert_state("MinitwitBackupFailing")
        except (AssertionError, OSError, ValueError) as e:
            state = f"unknown ({e})"
        if state == "firing":
            break
        time.sleep(1)
    assert state == "firing", f"Prometheus should fire MinitwitBackupFailing within 60 s; it is {state}"


def test_5_an_unreadable_s3_ca_file_stops_the_run_naming_the_setting(system):
    missing = system.work / "no-such-ca.pem"
    result = system.backup("--once", S3_CA_FILE=str(missing))
    assert result.rc != 0, f"backup.sh --once with an unreadable S3_CA_FILE should fail; it said:\n{result.out}"
    assert f"S3_CA_FILE points at {missing}, which is not readable" in result.out, (
        f"backup.sh should name S3_CA_FILE and its path; it said:\n{result.out}"
    )


# ---- 6. the start-up run waits for PostgreSQL -------------------------------------------------
# Deployed together, the backup service often starts before PostgreSQL answers (the stack's
# start-up backup then failed at once and retried 30 minutes later). Here PostgreSQL
# "appears" 3 s after the start: a TCP forwarder from a free port to the real server.


@pytest.fixture(scope="module")
def late_start(system, data):
    (port,) = free_ports(1)
    textfile = system.work / "textfile-late" / "minitwit_backup.prom"
    env = dict(system.env, BACKUP_TARGET=f"file://{system.work / 'store-late'}",
               BACKUP_TEXTFILE_DIR=str(textfile.parent), PGPORT=str(port), BACKUP_DB_WAIT_SECONDS="60")
    with open(system.work / "late.log", "wb") as log:
        schedule = subprocess.Popen([BACKUP_SH, "--schedule"], env=env, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=log, start_new_session=True)
    forwarder = None
    try:
        time.sleep(3)
        forwarder = Forwarder(port, system.env["PGHOST"], int(system.env["PGPORT"]))
        deadline = time.monotonic() + 60
        while read_metrics(textfile).get("minitwit_backup_last_run_success") != "1" and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        stop_group(schedule)
        if forwarder is not None:
            forwarder.close()
    return textfile


def test_6_the_startup_run_waited_for_postgres_to_answer_then_backed_up(system, late_start):
    text = late_start.read_text() if late_start.exists() else "(no textfile)"
    assert re.search(r"^minitwit_backup_last_run_success 1$", text, re.M), (
        f"the start-up run should back up once PostgreSQL answers; textfile:\n{text}\n"
        f"backup.sh said:\n{tail(system.work / 'late.log', 30)}"
    )


# ---- 7. the file:// target ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def file_store(system, data):
    target = f"file://{system.work / 'store'}"
    return target, system.backup("--once", BACKUP_TARGET=target)


def test_7_backup_sh_once_stores_into_a_file_target(file_store):
    _, result = file_store
    assert result.rc == 0, f"backup.sh --once into a file:// target should succeed; it said:\n{result.out}"


def test_7_restore_sh_list_shows_its_three_dumps(system, file_store):
    target, _ = file_store
    r = system.restore("--list", BACKUP_TARGET=target)
    dumps = [line for line in r.out.splitlines() if line.endswith(".dump")]
    assert len(dumps) == 3, f"restore.sh --list should show the file target's three dumps, shows {dumps} ({r.err})"
