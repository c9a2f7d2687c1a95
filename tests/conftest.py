"""Shared fixtures: a real redis-server per session, a migrated database per test (SQLite, or
PostgreSQL with TEST_DATABASE=postgresql), and the clock.

TEST_NOW (an ISO instant, e.g. 2027-01-03T08:30:00+00:00) starts every unit test at that
instant, the clock running on from it: CI runs the unit suite at a night outside agent hours and
before the demo debts fall due, with TZ far from UTC, to prove no test depends on when it runs.
"""

import os
import shutil
import socket
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import time_machine
from redis import Redis
from twilio.request_validator import RequestValidator

from bot import clock, create_app
from bot.db import session as db_session
from bot.testing import wait_for

ROOT = Path(__file__).resolve().parent.parent


TEST_NOW = os.environ.get("TEST_NOW")


@pytest.fixture(autouse=True)
def _test_now(request):
    """Start the test at TEST_NOW when set (unit tests; the e2e stack runs on the real clock)."""
    if not TEST_NOW or request.node.get_closest_marker("e2e"):
        yield
        return
    with time_machine.travel(datetime.fromisoformat(TEST_NOW), tick=True):
        yield


@pytest.fixture
def travel(time_machine):
    """travel(hours=73): the clock jumps that far ahead of now and stays there (frozen)."""

    def _travel(**delta):
        now = clock.utcnow().replace(tzinfo=timezone.utc)
        time_machine.move_to(now + timedelta(**delta), tick=False)

    return _travel


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A real redis-server on a free port for the whole session."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server is not installed; run `make install`")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [
            server,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = Redis.from_url(url)

    def pong():
        try:
            return client.ping()
        except Exception:
            return False

    wait_for(pong, 5, what="redis-server answering")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL server for the session (`make postgres` installs it); each test
    takes its own database with postgres.create_database()."""
    from bot.testing.postgres import Postgres, PostgresUnavailable

    try:
        server = Postgres().start()
    except PostgresUnavailable as exc:
        pytest.fail(str(exc))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def databases(tmp_path_factory, request):
    """Migrated once, copied per test: SQLite files, or PostgreSQL databases when
    TEST_DATABASE=postgresql (tests/databases.py)."""
    from tests.databases import ENGINE, ENGINES, PostgresDatabases, SqliteDatabases

    if ENGINE not in ENGINES:
        pytest.fail(f"TEST_DATABASE={ENGINE!r}: use one of {', '.join(ENGINES)}")
    if ENGINE == "postgresql":
        yield PostgresDatabases(request.getfixturevalue("postgres"))
    else:
        yield SqliteDatabases(tmp_path_factory.mktemp("db"))


@pytest.fixture(scope="session")
def stack_database(request):
    """new() gives an empty database for a whole test stack (bot/testing/stack.py migrates it):
    on PostgreSQL with TEST_DATABASE=postgresql, else None (the stack keeps an SQLite file)."""
    from tests.databases import ENGINE

    server = request.getfixturevalue("postgres") if ENGINE == "postgresql" else None
    return lambda: server.create_database() if server else None


@pytest.fixture
def app(tmp_path, databases, redis_server):
    url = databases.new(tmp_path)
    app = create_app(
        {
            "APP_ENV": "test",
            "DATABASE_URL": url,
            "REDIS_URL": redis_server,
            "PUBLIC_BASE_URL": "https://bot.example.test",
        }
    )
    Redis.from_url(redis_server).flushdb()
    yield app
    app.extensions["db"].engine.dispose()
    databases.drop(url)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def https(app):
    """A test client on https, for the consoles (their session cookie is Secure)."""
    from tests.console import https_client

    return https_client(app)


@pytest.fixture
def db(app):
    with app.app_context():
        yield db_session()


@pytest.fixture
def sign(app):
    """Sign form params the way Twilio does for a path under PUBLIC_BASE_URL."""

    def _sign(path, params):
        url = app.config["PUBLIC_BASE_URL"] + path
        return RequestValidator(app.config["TWILIO_AUTH_TOKEN"]).compute_signature(url, params)

    return _sign


DEMO_CSV = ROOT / "bot" / "demo" / "debtors.csv"


@pytest.fixture
def demo_debtors(db):
    from bot.debts.imports import import_csv

    with DEMO_CSV.open("rb") as fh:
        report = import_csv(db, fh)
    assert not report.errors
    return report


@pytest.fixture
def conversation(db, demo_debtors):
    """Camila's WhatsApp conversation (demo debtor: es-CO, COP 150000.00, ID ends 4821)."""
    from sqlalchemy import select

    from bot.models import Conversation, Debtor

    debtor = db.execute(select(Debtor).where(Debtor.phone == "+573001234567")).scalar_one()
    conv = Conversation(channel="whatsapp", address=debtor.phone, debtor=debtor)
    db.add(conv)
    db.commit()
    return conv
