"""The worker outlives Redis: a real redis-server stopped and started again empty, and a real
worker process that must neither exit nor stop serving jobs."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue, Worker

from bot.tasks import queues
from bot.testing import wait_for
from tests.conftest import free_port

BIN = Path(sys.executable).parent


def _redis_server(port):
    return subprocess.Popen(
        [shutil.which("redis-server"), "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )


def _answers(client):
    try:
        return client.ping()
    except Exception:
        return False


@pytest.fixture
def own_redis():
    port = free_port()
    proc = _redis_server(port)
    client = Redis(port=port)
    wait_for(lambda: _answers(client), 10, what="redis-server answering")
    state = {"proc": proc, "port": port, "client": client}
    yield state
    state["proc"].terminate()
    state["proc"].wait(timeout=10)


def test_a_worker_outlives_a_redis_restart(app, own_redis, tmp_path):
    client = own_redis["client"]
    env = {
        **os.environ,
        "APP_ENV": "test",
        "FLASK_APP": "bot",
        "DATABASE_URL": app.config["DATABASE_URL"],
        "REDIS_URL": f"redis://127.0.0.1:{own_redis['port']}/0",
        "SWEEP_INTERVAL": "2",
        "REMINDER_TICK": "0",
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [str(BIN / "flask"), "worker"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_for(lambda: Worker.all(connection=client), 60, what="the worker registered")
        # Redis goes away (as a restart without persistence does) and comes back empty.
        own_redis["proc"].terminate()
        own_redis["proc"].wait(timeout=10)
        wait_for(lambda: b"Redis lost" in log.read_bytes(), 30, what="the worker noticing")
        own_redis["proc"] = _redis_server(own_redis["port"])
        wait_for(lambda: _answers(client), 10, what="redis-server back")
        assert worker.poll() is None, log.read_text()
        wait_for(lambda: Worker.all(connection=client), 30, what="the worker registered again")
        # And it serves jobs again: a job for a conversation that does not exist returns quietly.
        job = Queue(queues.MAINTENANCE, connection=client).enqueue("bot.tasks.jobs.sync_bot", 10**9)
        wait_for(lambda: job.get_status() == "finished", 30, what="a job done after the restart")
        assert worker.poll() is None
    finally:
        worker.terminate()
        worker.wait(timeout=20)


def test_outbound_comes_first_and_can_have_its_own_worker(app):
    """Agents' replies and thank-yous never wait behind an inbound backlog: every worker
    serves the outbound queue first, and `worker --queues outbound` serves nothing else."""
    from bot.tasks.worker import build

    with app.app_context():
        everything = build(app)
        assert everything.queue_names() == ["outbound", "inbound", "reminders", "maintenance"]
        assert everything.sweeps
        dedicated = build(app, names=["outbound"])
        assert dedicated.queue_names() == ["outbound"]
        assert not dedicated.sweeps and not dedicated.reminder_tick


def test_the_worker_command_refuses_an_unknown_queue(app):
    result = app.test_cli_runner().invoke(args=["worker", "--queues", "outbound,nope"])
    assert result.exit_code != 0 and "unknown queue(s) nope" in result.output
