"""Queue names, the jobs and how each is enqueued (timeouts and retries live here), and the
after-commit flush of the outbox (bot.outbox).

Jobs are named by dotted path, so this module imports no job module: the worker imports
bot.tasks.jobs when it runs one.
"""

import logging
from dataclasses import dataclass

from flask import has_app_context
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job as RQJob
from sqlalchemy import event

from bot import outbox
from bot.redis import redis_conn

log = logging.getLogger(__name__)

INBOUND = "inbound"
# Messages a person is waiting on that are not answers to an inbound message: agents' replies,
# thank-yous, fresh links. Workers take it first, so they never wait behind an inbound backlog.
OUTBOUND = "outbound"
REMINDERS = "reminders"  # proactive sends: after the debtors who wrote
MAINTENANCE = "maintenance"
# The order a worker serves its queues in (RQ takes the first non-empty one).
ALL = (OUTBOUND, INBOUND, REMINDERS, MAINTENANCE)

# Rasa, Twilio or a lock busy: tried again every 30 s at most, for about 35 minutes (longer
# than OUTAGE_GIVE_UP_MINUTES, after which the message's own bound hands it to the agents); a
# job whose retries run out is found again by the sweep. A short interval means a message is
# answered within about 30 s of the dependency coming back.
OUTAGE_RETRY = Retry(max=72, interval=[2, 5, 10, 20, 30])
ALIVE = ("queued", "scheduled", "deferred")
FAILED_JOB_TTL = 7 * 24 * 3600
MARKER_TTL = 24 * 3600


@dataclass(frozen=True)
class Job:
    func: str  # dotted path of the job function
    queue: str
    timeout: int
    retry: Retry | None = OUTAGE_RETRY
    # A Redis key naming the job that owns a message (the sweep reads it), from its first arg.
    marker: str | None = None
    description: str | None = None
    result_ttl: int | None = None

    def describe(self, args):
        if self.description is None:
            return None
        first = args[0] if args else None
        return self.description.format(*args, n=len(first) if isinstance(first, list) else 1)


JOBS = {
    "process_inbound": Job(
        "bot.tasks.jobs.process_inbound",
        INBOUND,
        timeout=120,
        marker="inbound:job:{}",
        description="inbound message {}",
    ),
    "deliver_outbound": Job(
        "bot.tasks.jobs.deliver_outbound",
        OUTBOUND,
        timeout=60,
        marker="outbound:job:{}",
        description="outbound message {}",
    ),
    "sync_bot": Job("bot.tasks.jobs.sync_bot", MAINTENANCE, timeout=60),
    # Issue 13: receipt photos, documents after payments, auto-debit charges.
    "receive_media": Job(
        "bot.tasks.jobs.receive_media", INBOUND, timeout=120, description="media of message {}"
    ),
    "issue_documents": Job(
        "bot.tasks.jobs.issue_documents", OUTBOUND, timeout=120, description="documents {}"
    ),
    "charge_autodebits": Job(
        "bot.tasks.jobs.charge_autodebits",
        MAINTENANCE,
        timeout=1800,
        retry=Retry(max=3, interval=[60, 300, 900]),
        result_ttl=0,
    ),
    "send_reminders": Job(
        "bot.tasks.jobs.send_reminders",
        REMINDERS,
        timeout=300,
        description="send {n} reminder(s)",
        result_ttl=0,
    ),
    "accrue_ledger": Job(
        "bot.tasks.jobs.accrue_ledger",
        MAINTENANCE,
        timeout=3600,
        retry=Retry(max=3, interval=[60, 300, 900]),
        description="daily accrual of interest and late fees",
        result_ttl=3600,
    ),
    "sandbox_callbacks": Job(
        "bot.tasks.jobs.sandbox_status_callbacks",
        OUTBOUND,
        timeout=30,
        retry=Retry(max=3, interval=[1, 5, 15]),
        result_ttl=0,
    ),
}


def queue(name):
    return Queue(name, connection=redis_conn())


def marker(job, message_id):
    """The key naming the job that owns a message, for the sweep."""
    return JOBS[job].marker.format(message_id)


def marked_job_status(job, message_id):
    """The status of the job a message's marker key names, or None when there is none."""
    redis = redis_conn()
    job_id = redis.get(marker(job, message_id))
    if not job_id:
        return None
    try:
        return RQJob.fetch(job_id.decode(), connection=redis).get_status(refresh=False)
    except NoSuchJobError:
        return None


def enqueue(job, *args, pipeline=None):
    """Enqueue one job now (callers that have just committed); returns the RQ job."""
    if pipeline is None:
        with redis_conn().pipeline() as pipe:
            rq_job = enqueue(job, *args, pipeline=pipe)
            pipe.execute()
        return rq_job
    spec = JOBS[job]
    rq_job = queue(spec.queue).enqueue(
        spec.func,
        *args,
        job_timeout=spec.timeout,
        retry=spec.retry,
        result_ttl=spec.result_ttl,
        failure_ttl=FAILED_JOB_TTL,
        description=spec.describe(args),
        pipeline=pipeline,
    )
    if spec.marker:
        pipeline.set(marker(job, args[0]), rq_job.id, ex=MARKER_TTL)
    return rq_job


def flush(requests):
    """Enqueue outbox requests in one Redis round trip. A Redis outage loses nothing: the rows
    are committed and the sweep finds them (inbound and outbound messages, queued reminders)."""
    if not requests:
        return
    try:
        with redis_conn().pipeline() as pipe:
            for job, args in requests:
                enqueue(job, *args, pipeline=pipe)
            pipe.execute()
    except RedisError as exc:
        names = sorted({job for job, _ in requests})
        log.error("could not enqueue %s after commit: %s", names, type(exc).__name__)


def init_app(app):
    """Enqueue what each committed transaction asked for (bot.outbox), inside app's context."""
    sessions = app.extensions["db"].Session

    def after_commit(session):
        if outbox.KEY not in session.info:
            return
        requests = outbox.take(session)
        if has_app_context():
            flush(requests)
        else:
            with app.app_context():
                flush(requests)

    event.listen(sessions, "after_commit", after_commit)
    event.listen(sessions, "after_rollback", outbox.discard)
