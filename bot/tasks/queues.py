"""Redis connection, queue names and the enqueue helpers (timeouts and retries live here)."""

from flask import current_app
from redis import Redis
from rq import Queue, Retry

INBOUND = "inbound"
OUTBOUND = "outbound"
MAINTENANCE = "maintenance"
ALL = (INBOUND, OUTBOUND, MAINTENANCE)

# Rasa, Twilio or a lock busy: back off for about 10 minutes in all; then the job's own last
# attempt hands the message to agents (or, for reminders, the tick re-enqueues it).
OUTAGE_RETRY = Retry(max=6, interval=[2, 5, 15, 30, 60, 300])
FAILED_JOB_TTL = 7 * 24 * 3600


def redis_conn():
    ext = current_app.extensions
    if "redis" not in ext:
        ext["redis"] = Redis.from_url(current_app.config["REDIS_URL"])
    return ext["redis"]


def queue(name):
    return Queue(name, connection=redis_conn())


def job_marker(message_id):
    """Redis key naming the job that owns an inbound message (the sweep checks it)."""
    return f"inbound:job:{message_id}"


def _enqueue_marked(name, func, message_id, marker, timeout, description):
    """Enqueue a job for one message and set the marker key that names it (the sweep reads
    it), in one Redis round trip: for inbound messages this runs inside the webhook."""
    with redis_conn().pipeline() as pipe:
        job = queue(name).enqueue(
            func,
            message_id,
            job_timeout=timeout,
            retry=OUTAGE_RETRY,
            failure_ttl=FAILED_JOB_TTL,
            description=description,
            pipeline=pipe,
        )
        pipe.set(marker, job.id, ex=24 * 3600)
        pipe.execute()
    return job


def enqueue_inbound(message_id):
    from bot.tasks.jobs import process_inbound

    return _enqueue_marked(
        INBOUND,
        process_inbound,
        message_id,
        job_marker(message_id),
        120,
        f"inbound message {message_id}",
    )


def enqueue_sandbox_callbacks(sandbox_message_id):
    from bot.tasks.jobs import sandbox_status_callbacks

    return queue(OUTBOUND).enqueue(
        sandbox_status_callbacks,
        sandbox_message_id,
        job_timeout=30,
        retry=Retry(max=3, interval=[1, 5, 15]),
        result_ttl=0,
    )


def outbound_marker(message_id):
    """Redis key naming the job that sends an outbound message (the sweep checks it)."""
    return f"outbound:job:{message_id}"


def enqueue_outbound(message_id):
    """Send a message the bot or an agent started (not a reply) through the worker."""
    from bot.tasks.jobs import deliver_outbound

    return _enqueue_marked(
        OUTBOUND,
        deliver_outbound,
        message_id,
        outbound_marker(message_id),
        60,
        f"outbound message {message_id}",
    )


def enqueue_sync_bot(conversation_id):
    """Pause or resume Rasa on a conversation to match who holds it."""
    from bot.tasks.jobs import sync_bot

    return queue(MAINTENANCE).enqueue(
        sync_bot,
        conversation_id,
        job_timeout=60,
        retry=OUTAGE_RETRY,
        failure_ttl=FAILED_JOB_TTL,
    )


def enqueue_reminder_send(ids, pipeline=None):
    from bot.tasks.jobs import send_reminders

    return queue(OUTBOUND).enqueue(
        send_reminders,
        list(ids),
        job_timeout=300,
        retry=OUTAGE_RETRY,
        result_ttl=0,
        failure_ttl=FAILED_JOB_TTL,
        description=f"send {len(ids)} reminder(s)",
        pipeline=pipeline,
    )
