"""The workers' idle loop asks for the dashboard's aggregates at most once per interval."""

from datetime import datetime, timedelta

from rq import Queue

from bot.redis import redis_conn
from bot.tasks import periodic

NOW = datetime(2026, 3, 20, 15, 0)


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
