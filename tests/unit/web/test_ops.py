"""Liveness, readiness and /metrics of the web tier, through the Flask test client on the real
redis-server of the session (and a dead port for a Redis that is down)."""

from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families
from redis import Redis
from rq import Queue

from bot import clock
from bot.tasks import queues
from tests.conftest import free_port
from tests.unit.web.test_webhooks import inbound_form, post_signed


def samples(text):
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_liveness_answers_without_looking_at_dependencies(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json["status"] == "ok"


def test_ready_when_database_and_redis_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def test_not_ready_while_redis_is_down(app, client):
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    app.extensions.pop("health_redis", None)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"] == {"database": "ok", "redis": "ConnectionError"}


def test_metrics_show_webhook_latency_and_the_queues(app, client, db, sign):
    redis = Redis.from_url(app.config["REDIS_URL"])
    before = samples(client.get("/metrics").data.decode())
    key = (
        "bot_http_request_duration_seconds_count",
        (("endpoint", "webhooks.inbound"), ("status", "2xx")),
    )
    assert post_signed(client, sign, inbound_form()).status_code == 200
    # One more job, enqueued a minute ago: the oldest job's age comes from RQ's own record.
    job = Queue(queues.MAINTENANCE, connection=redis).enqueue("bot.tasks.jobs.sync_bot", 1)
    job.enqueued_at = clock.utcnow() - timedelta(seconds=60)
    job.save()
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    after = samples(response.data.decode())
    assert after[key] == before.get(key, 0) + 1
    assert after["bot_queue_depth", (("queue", "inbound"),)] == 1
    assert after["bot_queue_depth", (("queue", "maintenance"),)] == 1
    assert after["bot_queue_oldest_job_age_seconds", (("queue", "maintenance"),)] >= 59
    assert after["bot_queue_oldest_job_age_seconds", (("queue", "reminders"),)] == 0
    assert after["bot_redis_up", ()] == 1
    # Labels carry endpoint names, never the debtor's number.
    assert "573001234567" not in response.data.decode()


def test_metrics_need_the_token_when_one_is_set(app, client):
    app.config["METRICS_TOKEN"] = "t" * 32
    assert client.get("/metrics").status_code == 404
    wrong = {"Authorization": "Bearer nope"}
    assert client.get("/metrics", headers=wrong).status_code == 404
    right = {"Authorization": "Bearer " + "t" * 32}
    assert client.get("/metrics", headers=right).status_code == 200


def test_without_a_token_metrics_answer_only_the_machine_itself(client):
    remote = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", environ_base=remote).status_code == 404
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200


def test_metrics_still_answer_when_redis_is_down(app, client):
    from bot.metrics import QueueCollector

    app.extensions["metrics_collectors"] = (
        QueueCollector(f"redis://127.0.0.1:{free_port()}/0", queues.ALL, timeout=0.5),
    )
    response = client.get("/metrics")
    assert response.status_code == 200
    values = samples(response.data.decode())
    assert values["bot_redis_up", ()] == 0
    assert not any(name == "bot_queue_depth" for name, _labels in values)
