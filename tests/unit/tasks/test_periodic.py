"""The workers' idle loop asks for an auto-debit run every AUTODEBIT_INTERVAL of the clock, one
at a time, and for the dashboard's aggregates at most once per ANALYTICS_INTERVAL."""

from datetime import datetime, timedelta

from redis import Redis
from rq import Queue

from bot.redis import redis_conn
from bot.tasks import jobs, periodic, queues

NOW = datetime(2026, 3, 20, 15, 0)


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


def test_reminders_waiting_behind_the_send_rate_are_not_enqueued_again(app, db, demo_debtors):
    from datetime import timedelta

    from bot.clock import utcnow
    from bot.reminders import dispatching, planning
    from tests.unit.reminders.test_reminders import NOW, rows

    planning.plan(db, now=NOW)
    dispatching.dispatch(db, now=NOW)  # the send jobs wait in the reminders queue
    queued = rows(db, status="queued")
    queue = queues.queue(queues.REMINDERS)
    waiting = queue.count
    assert queued and waiting
    later = utcnow() + timedelta(minutes=11)
    assert periodic.requeue_lost_sends(db, now=later) == 0
    assert queue.count == waiting
    queue.empty()  # the jobs are lost (Redis flushed): now the rows get new ones
    assert periodic.requeue_lost_sends(db, now=later) == len(queued)
    assert sorted(i for job in queue.jobs for i in job.args[0]) == sorted(r.id for r in queued)


def test_the_analytics_job_is_asked_for_once_per_interval(app):
    with app.app_context():
        app.config["ANALYTICS_INTERVAL"] = 3600
        assert periodic.analytics_tick(NOW) is True
        assert periodic.analytics_tick(NOW + timedelta(minutes=59)) is False
        assert periodic.analytics_tick(NOW + timedelta(minutes=61)) is True
        jobs = Queue("maintenance", connection=redis_conn()).jobs
    assert [j.func_name for j in jobs] == ["bot.tasks.jobs.analytics_rollup"] * 2


def test_an_interval_of_zero_turns_it_off(app):
    with app.app_context():
        app.config["ANALYTICS_INTERVAL"] = 0
        assert periodic.analytics_tick(NOW) is False
