"""The workers ask for an auto-debit run every AUTODEBIT_INTERVAL of the clock, one at a time."""

from redis import Redis
from rq import Queue

from bot.tasks import jobs, periodic, queues


def maintenance_jobs(app):
    queue = Queue(queues.MAINTENANCE, connection=Redis.from_url(app.config["REDIS_URL"]))
    return [j.func_name.rsplit(".", 1)[1] for j in queue.jobs]


def test_the_tick_asks_once_per_interval(app, travel):
    app.config.update(AUTODEBIT_PROVIDER="sandbox", AUTODEBIT_INTERVAL=3600)
    with app.app_context():
        assert periodic.autodebit_tick() is True
        assert periodic.autodebit_tick() is False  # another worker, a moment later
        travel(seconds=3601)
        assert periodic.autodebit_tick() is True
    assert maintenance_jobs(app) == ["charge_autodebits", "charge_autodebits"]


def test_no_tick_without_auto_debit_or_with_interval_zero(app):
    with app.app_context():
        app.config.update(AUTODEBIT_PROVIDER=None, AUTODEBIT_INTERVAL=3600)
        assert periodic.autodebit_tick() is False
        app.config.update(AUTODEBIT_PROVIDER="sandbox", AUTODEBIT_INTERVAL=0)
        assert periodic.autodebit_tick() is False
    assert maintenance_jobs(app) == []


def test_the_job_leaves_a_running_run_alone(app, monkeypatch):
    runs = []
    monkeypatch.setattr(jobs, "job_app", lambda: app)
    monkeypatch.setattr(jobs.autodebit, "run", lambda session: runs.append(session) or {})
    with app.app_context():
        lock = periodic.autodebit_lock()
        assert lock.acquire(blocking=False)
        jobs.charge_autodebits()
        assert runs == []
        lock.release()
    jobs.charge_autodebits()
    assert len(runs) == 1
