"""A worker's health and metrics port: liveness from the loop's beats, readiness from the
database and Redis, Prometheus text; and a real worker process serving it."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from rq import Queue

from bot.tasks import health, queues
from bot.testing import wait_for
from tests.conftest import free_port

BIN = Path(sys.executable).parent


def get(port, path, **kw):
    return requests.get(f"http://127.0.0.1:{port}{path}", timeout=5, **kw)


def test_the_port_answers_health_readiness_and_metrics(app):
    liveness = health.Liveness()
    server = health.serve(app, liveness, 0)
    port = server.server_address[1]
    try:
        assert get(port, "/healthz").json() == {"status": "ok"}
        ready = get(port, "/readyz")
        assert ready.status_code == 200 and ready.json()["checks"]["redis"] == "ok"
        scraped = get(port, "/metrics")
        assert scraped.status_code == 200
        assert "bot_turn_duration_seconds_count" in scraped.text
        assert "# TYPE bot_sends_total counter" in scraped.text
        assert get(port, "/nowhere").status_code == 404
        # A loop that stopped beating: the supervisor is told to restart the worker.
        liveness.deadline = time.monotonic() - 1
        stuck = get(port, "/healthz")
        assert stuck.status_code == 503 and stuck.json() == {"status": "stuck"}
        liveness.beat(30)
        assert get(port, "/healthz").status_code == 200
    finally:
        server.shutdown()
        server.server_close()


def test_metrics_need_the_token_when_one_is_set(app):
    app.config["METRICS_TOKEN"] = "w" * 32
    server = health.serve(app, health.Liveness(), 0)
    port = server.server_address[1]
    try:
        assert get(port, "/metrics").status_code == 404
        ok = get(port, "/metrics", headers={"Authorization": "Bearer " + "w" * 32})
        assert ok.status_code == 200
        assert get(port, "/healthz").status_code == 200  # probes need no token
    finally:
        server.shutdown()
        server.server_close()


def test_a_taken_port_leaves_the_worker_running_without_it(app):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert health.serve(app, health.Liveness(), taken.getsockname()[1]) is None


def test_a_real_worker_serves_its_port_while_it_runs_jobs(app, tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "APP_ENV": "test",
        "FLASK_APP": "bot",
        "DATABASE_URL": app.config["DATABASE_URL"],
        "REDIS_URL": app.config["REDIS_URL"],
        "REMINDER_TICK": "0",
        "WORKER_METRICS_PORT": str(port),
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [str(BIN / "flask"), "worker"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:

        def answering():
            try:
                return get(port, "/healthz").status_code == 200
            except requests.RequestException:
                return False

        wait_for(answering, 60, what="the worker's health port")
        assert get(port, "/readyz").json()["status"] == "ok"
        # A job for a conversation that does not exist returns quietly.
        queue = Queue(queues.MAINTENANCE, connection=_redis(app))
        job = queue.enqueue("bot.tasks.jobs.sync_bot", 10**9)
        wait_for(lambda: job.get_status() == "finished", 30, what="the job done")
        assert get(port, "/healthz").status_code == 200
        assert worker.poll() is None, log.read_text()
    finally:
        worker.terminate()
        worker.wait(timeout=20)


def _redis(app):
    from redis import Redis

    return Redis.from_url(app.config["REDIS_URL"])


def test_the_worker_loop_beats_while_idle_and_during_a_long_dispatch(app):
    from bot.tasks.worker import _Beating, build

    with app.app_context():
        worker = build(app)
        worker.liveness = health.Liveness()
        worker.liveness.deadline = time.monotonic() - 1
        assert not worker.liveness.alive()
        worker.heartbeat()  # RQ's, while waiting for a job
        left = worker.liveness.deadline - time.monotonic()
        assert worker.liveness.alive() and worker.worker_ttl < left <= worker.worker_ttl + 60
        # Each dispatch batch renews the reminders lock, and that is a beat too.
        worker.liveness.deadline = time.monotonic() - 1
        lock = _redis(app).lock("lock:test-beat", timeout=30)
        assert lock.acquire(blocking=False)
        _Beating(lock, worker).reacquire()
        assert worker.liveness.alive()
        lock.release()
