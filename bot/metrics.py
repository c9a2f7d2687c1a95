"""Prometheus metrics: what each process counts, and the text a scrape is answered with.

The metric objects live here (the base layer) so any package can count without importing the
web or the task layer: the contact decision counts its decisions, delivery its sends, the turn
its latency. Who serves them:
- web (gunicorn, several worker processes): `/metrics` (bot.web.ops) in prometheus-client's
  multiprocess mode: gunicorn.conf.py gives the processes one PROMETHEUS_MULTIPROC_DIR, and a
  scrape sums them. The queue gauges are read from Redis at scrape time (QueueCollector).
- each RQ worker: its own small HTTP port (`flask --app bot worker --metrics-port N`, bot.tasks
  .health) with /metrics, /healthz and /readyz: workers run one per container or host, so one
  scrape target each is simpler than a shared directory that only works on one machine.

Labels take values from short fixed sets only (endpoint names, decision reasons, results):
never a phone number, a conversation or anything a debtor wrote.
"""

import os
import time
from datetime import datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from redis import Redis

from bot.clock import utcnow

# Seconds: a webhook acknowledgement takes milliseconds, a turn through Rasa up to seconds.
FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
SLOW = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)

HTTP_LATENCY = Histogram(
    "bot_http_request_duration_seconds",
    "Time to answer an HTTP request, by Flask endpoint (webhooks.* are Twilio's and the "
    "payment providers' webhooks) and status class.",
    ["endpoint", "status"],
    buckets=FAST,
)
TURN_LATENCY = Histogram(
    "bot_turn_duration_seconds",
    "From a debtor's message stored by the webhook to the bot's replies handed to Twilio "
    "(queue wait, Rasa and delivery).",
    buckets=SLOW,
)
RASA_LATENCY = Histogram(
    "bot_rasa_request_duration_seconds",
    "One message sent to Rasa and its answers back.",
    buckets=SLOW,
)
SENDS = Counter(
    "bot_sends_total",
    "Messages handed to Twilio, by result: sent (accepted), refused (Twilio said no: the "
    "error code is on the message), retry (429 or 5xx), unreachable (no answer).",
    ["result"],
)
GATE_DECISIONS = Counter(
    "bot_gate_decisions_total",
    "Contact decisions (bot.contact.decision) by purpose, action and reason.",
    ["purpose", "action", "reason"],
)


def observe_send(result):
    SENDS.labels(result=result).inc()


def observe_decision(purpose, decision):
    GATE_DECISIONS.labels(
        purpose=purpose, action=decision.action, reason=decision.reason or "none"
    ).inc()


def observe_turn(received_at, now=None):
    """A turn finished: its latency from the message's arrival (naive UTC)."""
    if received_at is not None:
        TURN_LATENCY.observe(max(((now or utcnow()) - received_at).total_seconds(), 0.0))


class Timer:
    """with Timer(histogram): observe the block's duration (monotonic, not the clock)."""

    def __init__(self, histogram):
        self.histogram = histogram

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *_exc):
        self.histogram.observe(time.perf_counter() - self.start)
        return False


def _rq_time(value):
    """RQ's enqueued_at (bytes, ISO with Z) as naive UTC, or None."""
    if not value:
        return None
    text = value.decode() if isinstance(value, bytes) else str(value)
    try:
        return datetime.fromisoformat(text.rstrip("Z"))
    except ValueError:
        return None


class QueueCollector:
    """Queue depth and the age of the oldest waiting job of each RQ queue, read from Redis at
    scrape time (nothing to keep in step), plus jobs waiting in each queue's scheduled (retry)
    registry. RQ pushes at the tail and pops at the head: the head is the oldest."""

    def __init__(self, redis_url, names, timeout=2):
        self.url, self.names, self.timeout = redis_url, tuple(names), timeout
        self._redis = None

    @property
    def redis(self):
        if self._redis is None:
            self._redis = Redis.from_url(
                self.url, socket_timeout=self.timeout, socket_connect_timeout=self.timeout
            )
        return self._redis

    def collect(self):
        depth = GaugeMetricFamily(
            "bot_queue_depth", "Jobs waiting in the RQ queue.", labels=["queue"]
        )
        age = GaugeMetricFamily(
            "bot_queue_oldest_job_age_seconds",
            "Age of the oldest job waiting in the RQ queue (0 when empty).",
            labels=["queue"],
        )
        scheduled = GaugeMetricFamily(
            "bot_queue_scheduled_jobs",
            "Jobs scheduled for later in the queue (retries after an outage).",
            labels=["queue"],
        )
        up = GaugeMetricFamily("bot_redis_up", "1 when Redis answered this scrape.")
        try:
            self._read(depth, age, scheduled)
        except Exception:  # Redis down: the scrape still answers, and says so
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        return [up, depth, age, scheduled]

    def _read(self, depth, age, scheduled):
        now = utcnow()
        with self.redis.pipeline() as pipe:
            for name in self.names:
                pipe.llen(f"rq:queue:{name}")
                pipe.lindex(f"rq:queue:{name}", 0)
                pipe.zcard(f"rq:scheduled:{name}")
            answers = pipe.execute()
        heads = {}
        for i, name in enumerate(self.names):
            n, head, later = answers[3 * i : 3 * i + 3]
            depth.add_metric([name], n)
            scheduled.add_metric([name], later)
            heads[name] = head
        with self.redis.pipeline() as pipe:
            for name in self.names:
                head = heads[name]
                pipe.hget(f"rq:job:{head.decode()}", "enqueued_at") if head else pipe.echo("")
            stamps = pipe.execute()
        for name, stamp in zip(self.names, stamps, strict=True):
            enqueued = _rq_time(stamp)
            age.add_metric([name], max((now - enqueued).total_seconds(), 0.0) if enqueued else 0)


def exposition(extra=()):
    """(body, content type) for a scrape: this process's metrics (or every process's, in
    multiprocess mode), then the extra collectors'."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    if extra:
        registry = CollectorRegistry()
        for collector in extra:
            registry.register(collector)
        body += generate_latest(registry)
    return body, CONTENT_TYPE_LATEST
