"""The real stack for end-to-end tests and benchmarks: redis-server, Rasa on a trained model,
the action server, the web app under gunicorn, RQ workers, and a local Twilio-compatible server.
"""

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import requests
from redis import Redis
from sqlalchemy import create_engine, text
from twilio.request_validator import RequestValidator

from bot.testing import wait_for
from bot.testing.fake_twilio import FakeTwilio
from bot.testing.smtp import SmtpCatcher

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# The workers' app, as the Procfile starts them: without the web tier and its consoles.
WORKER_APP = "bot:create_app(web=False)"


def free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid):
    """All descendants of pid (gunicorn workers, RQ's scheduler, Rasa's helpers)."""
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        try:
            kids = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        found += [int(k) for k in kids]
        frontier += [int(k) for k in kids]
    return found


def find_model():
    if os.environ.get("MODEL_PATH"):
        return ROOT / os.environ["MODEL_PATH"]
    models = sorted((ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise RuntimeError("no trained Rasa model in models/: run `make model`")
    return models[-1]


class Stack:
    def __init__(
        self,
        workdir,
        workers=1,
        web_workers=2,
        extra_env=None,
        worker_args=(),
        nice=10,
        rasa_replicas=1,
        database_url=None,
        web_threads=4,
    ):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ports = {n: free_port() for n in ("redis", "rasa", "actions", "web")}
        self.account_sid, self.auth_token = "AC" + "1" * 32, uuid.uuid4().hex
        self.twilio = FakeTwilio(self.account_sid, self.auth_token)
        self.smtp = SmtpCatcher()  # a real SMTP server: what the app e-mails arrives here
        self.base_url = f"http://127.0.0.1:{self.ports['web']}"
        self.n_workers = workers
        self.worker_args = list(worker_args)
        self.web_workers = web_workers
        self.web_threads = web_threads
        # Rasa, the action server and the workers at a lower CPU priority than the web tier,
        # as Procfile.dev runs them: on one machine, acknowledgements come first.
        self.nice = nice
        self.procs = {}
        # Rasa replicas share the tracker and lock stores in this stack's redis; the worker
        # takes them in turn (RASA_URL lists them all).
        self.rasa_ports = [self.ports["rasa"], *(free_port() for _ in range(rasa_replicas - 1))]
        self.env = {
            **os.environ,
            "APP_ENV": "test",
            "SECRET_KEY": uuid.uuid4().hex,
            # An SQLite file of its own, or a database given (PostgreSQL for production's path).
            "DATABASE_URL": database_url or f"sqlite:///{self.workdir / 'bot.db'}",
            "REDIS_URL": f"redis://127.0.0.1:{self.ports['redis']}/0",
            "RASA_URL": ",".join(f"http://127.0.0.1:{port}" for port in self.rasa_ports),
            "RASA_TOKEN": uuid.uuid4().hex,
            "ACTION_SERVER_URL": f"http://127.0.0.1:{self.ports['actions']}/webhook",
            "TWILIO_ACCOUNT_SID": self.account_sid,
            "TWILIO_AUTH_TOKEN": self.auth_token,
            "TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886",
            "TWILIO_SMS_FROM": "+15005550006",
            "PUBLIC_BASE_URL": self.base_url,
            "SWEEP_INTERVAL": "2",
            "SWEEP_MIN_AGE": "2",
            "CONVERSATION_LOCK_TTL": "5",
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            # The action server (python -m rasa_sdk) listens on all interfaces unless told.
            "SANIC_HOST": "127.0.0.1",
            "TF_CPP_MIN_LOG_LEVEL": "3",
            # As the Procfile and compose.yaml run them: two glibc malloc arenas per process,
            # not eight per core (Rasa's TensorFlow threads, gunicorn's and the worker's).
            "MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX", "2"),
            "FLASK_APP": "bot",
            # Proactive reminders would write to the test debtors mid-test; their own test
            # (test_reminders.py) turns the tick on.
            "REMINDER_TICK": "0",
            # Auto-debit runs when a test asks (`flask autodebit run`), not on the workers' tick.
            "AUTODEBIT_INTERVAL": "0",
            "EMAIL_SMTP_HOST": self.smtp.host,
            "EMAIL_SMTP_PORT": str(self.smtp.port),
            "EMAIL_SMTP_TLS": "none",
            "EMAIL_FROM": "Cobranzas <cobros@acme.test>",
            "EMAIL_WEBHOOK_SECRET": uuid.uuid4().hex,
            **(extra_env or {}),
        }
        self.redis = Redis.from_url(self.env["REDIS_URL"])

    # -- processes -------------------------------------------------------------------------
    def _spawn(self, name, args, background=False):
        log = open(self.workdir / f"{name}.log", "ab")
        if background and self.nice:
            args = ["nice", "-n", str(self.nice), *args]
        self.procs[name] = subprocess.Popen(
            args,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so kill takes its children too
        )
        return self.procs[name]

    def _run(self, *args):
        subprocess.run(
            [str(BIN / "flask"), *args], cwd=ROOT, env=self.env, check=True, capture_output=True
        )

    def start_base(self):
        """The fake Twilio, redis-server and a migrated database: what every stack needs."""
        self.twilio.start()
        self.smtp.start()
        self.env["TWILIO_API_BASE_URL"] = self.twilio.url
        self.start_redis()
        self._run("db-upgrade")

    def start_redis(self):
        """redis-server without persistence: a restart comes back empty, as in the outage
        the fault tests inject."""
        self._spawn(
            "redis",
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.ports["redis"]),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
        )
        self._wait(lambda: self.redis.ping(), "redis")

    def start(self):
        self.start_base()
        self._run("load-demo")
        self._run("import-debts", str(ROOT / "tests" / "e2e" / "debtors.csv"))
        for i in range(len(self.rasa_ports)):
            self.start_rasa(i, wait=False)
        self._spawn(
            "actions",
            [
                # The SDK's own entry point: `rasa run actions` imports all of Rasa's CLI first.
                str(BIN / "python"),
                "-m",
                "rasa_sdk",
                "--actions",
                "actions",
                "--port",
                str(self.ports["actions"]),
            ],
            background=True,
        )
        self._spawn(
            "web",
            [
                str(BIN / "gunicorn"),
                "--bind",
                f"127.0.0.1:{self.ports['web']}",
                "--workers",
                str(self.web_workers),
                "--threads",
                str(self.web_threads),
                "bot:create_app()",
            ],
        )
        for i in range(self.n_workers):
            self.start_worker(i)
        self._wait(lambda: requests.get(self.base_url + "/healthz", timeout=1).ok, "web")
        self._wait(
            lambda: requests.get(f"http://127.0.0.1:{self.ports['actions']}/health", timeout=1).ok,
            "actions",
        )
        for i in range(len(self.rasa_ports)):
            self.wait_rasa(i)
        return self

    # -- Rasa replicas (restartable: their conversations live in redis) ---------------------
    def rasa_name(self, i):
        return "rasa" if i == 0 else f"rasa{i}"

    def rasa_url(self, i):
        return f"http://127.0.0.1:{self.rasa_ports[i]}"

    def start_rasa(self, i=0, wait=True):
        self._spawn(
            self.rasa_name(i),
            [
                # Rasa through the project's entry point (cached action-result validator).
                str(BIN / "python"),
                "-m",
                "bot.conversations.rasa_server",
                "run",
                "--enable-api",
                "--auth-token",
                self.env["RASA_TOKEN"],
                "--model",
                str(find_model()),
                "--endpoints",
                "dialogue/endpoints.yml",
                "--credentials",
                "dialogue/credentials.yml",
                "--interface",
                "127.0.0.1",
                "--port",
                str(self.rasa_ports[i]),
            ],
            background=True,
        )
        if wait:
            self.wait_rasa(i)

    def wait_rasa(self, i=0):
        self._wait(lambda: self._rasa_ready(i), self.rasa_name(i), timeout=180)

    def stop_rasa(self, i=0):
        """SIGTERM a Rasa replica and wait until it has exited."""
        self.stop_process(self.rasa_name(i))

    def stop_process(self, name):
        """Stop one process of the stack (SIGTERM to its group, as an orchestrator would)."""
        proc = self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def _rasa_ready(self, i=0):
        response = requests.post(
            f"{self.rasa_url(i)}/model/parse",
            params={"token": self.env["RASA_TOKEN"]},
            json={"text": "hola"},
            timeout=5,
        )
        return response.ok

    def start_worker(self, i=0):
        return self._spawn(
            f"worker{i}",
            [str(BIN / "flask"), "--app", WORKER_APP, "worker", *self.worker_args],
            background=True,
        )

    def peak_memory(self):
        """Peak resident memory (VmHWM, MiB) of each running process and its children."""
        peaks = {}
        for name, proc in self.procs.items():
            total = 0.0
            for pid in [proc.pid, *_children(proc.pid)]:
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                for line in status.splitlines():
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1]) / 1024
            peaks[name] = round(total, 1)
        return peaks

    def memory(self):
        """Memory now (MiB) of each running process and its children: rss (resident) and pss
        (proportional: pages shared by gunicorn's forked workers counted once in the sum),
        from /proc/<pid>/smaps_rollup."""
        found = {}
        for name, proc in self.procs.items():
            rss = pss = 0.0
            for pid in [proc.pid, *_children(proc.pid)]:
                try:
                    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
                except OSError:
                    continue
                for line in rollup.splitlines():
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1]) / 1024
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1]) / 1024
            found[name] = {"rss": round(rss, 1), "pss": round(pss, 1)}
        return found

    def start_sandbox(self):
        """A second web app and worker in sandbox mode (no Twilio credentials), sharing this
        stack's database, Rasa and action server, with their own Redis database."""
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {
            "TWILIO_ACCOUNT_SID": "",
            "TWILIO_AUTH_TOKEN": "",
            "TWILIO_API_BASE_URL": "",
            "PUBLIC_BASE_URL": url,
            "REDIS_URL": f"redis://127.0.0.1:{self.ports['redis']}/1",
        }
        saved, self.env = self.env, {**self.env, **env}
        try:
            self._spawn(
                "sandbox-web",
                [
                    str(BIN / "gunicorn"),
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--threads",
                    "4",
                    "bot:create_app()",
                ],
            )
            self._spawn("sandbox-worker", [str(BIN / "flask"), "--app", WORKER_APP, "worker"])
        finally:
            self.env = saved
        self._wait(
            lambda: requests.get(url + "/healthz", timeout=1).json()["sandbox"], "sandbox-web"
        )
        return url

    def kill_worker(self, i=0):
        """SIGKILL the worker's whole process group: the worker, its work-horse, its scheduler."""
        proc = self.procs.pop(f"worker{i}")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def _wait(self, check, name, timeout=60):
        def ready():
            proc = self.procs.get(name)
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{name} exited early:\n{self.log_tail(name)}")
            try:
                return check()
            except Exception:
                return False

        try:
            wait_for(ready, timeout, interval=0.2, what=f"{name} ready")
        except AssertionError:
            raise RuntimeError(
                f"{name} not ready after {timeout}s:\n{self.log_tail(name)}"
            ) from None

    def in_flight(self, phone=None):
        """Messages (of one number, or all) still being worked on: inbound not yet answered,
        outbound not yet handed to Twilio."""
        where = "AND c.address = :phone" if phone else ""
        return self.query(
            "SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id "
            "WHERE ((m.direction = 'in' AND m.status = 'received') OR "
            f"(m.direction = 'out' AND m.status IN ('pending', 'sending'))) {where}",
            phone=phone,
        )[0][0]

    def settled(self, phone=None, timeout=60):
        """Wait until nothing is in flight for the number (or at all)."""
        wait_for(lambda: self.in_flight(phone) == 0, timeout, what="no message in flight")

    def query(self, sql, **params):
        """Rows of a read-only SQL query on the stack's database."""
        engine = create_engine(self.env["DATABASE_URL"], future=True)
        try:
            with engine.connect() as conn:
                return conn.execute(text(sql), params).all()
        finally:
            engine.dispose()

    def log_tail(self, name, lines=40):
        path = self.workdir / f"{name}.log"
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self):
        for proc in list(self.procs.values()):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        self.procs.clear()
        self.twilio.stop()
        self.smtp.stop()

    # -- talking to it -----------------------------------------------------------------------
    def inbound_form(self, phone, body, channel="whatsapp", sid=None, **extra):
        sender = f"whatsapp:{phone}" if channel == "whatsapp" else phone
        to = (
            self.env["TWILIO_WHATSAPP_FROM"]
            if channel == "whatsapp"
            else self.env["TWILIO_SMS_FROM"]
        )
        form = {
            "MessageSid": sid or "SM" + uuid.uuid4().hex,
            "AccountSid": self.account_sid,
            "From": sender,
            "To": to,
            "Body": body,
            "NumMedia": "0",
        }
        form.update(extra)
        return form

    def sign(self, path, form):
        return RequestValidator(self.auth_token).compute_signature(self.base_url + path, form)

    def post(self, form, path="/webhooks/twilio/messages", signature=None, session=None):
        signature = self.sign(path, form) if signature is None else signature
        return (session or requests).post(
            self.base_url + path, data=form, headers={"X-Twilio-Signature": signature}, timeout=10
        )
