"""Redis connection, queue names and the enqueue helpers (timeouts and retries live here)."""

from flask import current_app
from redis import Redis
from rq import Queue, Retry

INBOUND = "inbound"
OUTBOUND = "outbound"
MAINTENANCE = "maintenance"
ALL = (INBOUND, OUTBOUND, MAINTENANCE)

# Rasa or Twilio down: back off for about 10 minutes in all before handing to agents.
INBOUND_RETRY = Retry(max=6, interval=[2, 5, 15, 30, 60, 300])


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


def enqueue_inbound(message_id):
    from .jobs import process_inbound

    # One round trip for the job and its marker: this runs inside the webhook request.
    with redis_conn().pipeline() as pipe:
        job = queue(INBOUND).enqueue(
            process_inbound,
            message_id,
            job_timeout=120,
            retry=INBOUND_RETRY,
            failure_ttl=7 * 24 * 3600,
            description=f"inbound message {message_id}",
            pipeline=pipe,
        )
        pipe.set(job_marker(message_id), job.id, ex=24 * 3600)
        pipe.execute()
    return job


def enqueue_sandbox_callbacks(sandbox_message_id):
    from .jobs import sandbox_status_callbacks

    return queue(OUTBOUND).enqueue(
        sandbox_status_callbacks,
        sandbox_message_id,
        job_timeout=30,
        retry=Retry(max=3, interval=[1, 5, 15]),
        result_ttl=0,
    )


# A message the bot starts (a payment's thank-you, a fresh link): Twilio down is retried for
# about 10 minutes, then the message is failed and handed to agents.
OUTBOUND_RETRY = Retry(max=6, interval=[2, 5, 15, 30, 60, 300])


def outbound_marker(message_id):
    """Redis key naming the job that sends an outbound message (the sweep checks it)."""
    return f"outbound:job:{message_id}"


def enqueue_outbound(message_id):
    """Send a message the bot or an agent started (not a reply) through the worker."""
    from .jobs import deliver_outbound

    with redis_conn().pipeline() as pipe:
        job = queue(OUTBOUND).enqueue(
            deliver_outbound,
            message_id,
            job_timeout=60,
            retry=OUTBOUND_RETRY,
            failure_ttl=7 * 24 * 3600,
            description=f"outbound message {message_id}",
            pipeline=pipe,
        )
        pipe.set(outbound_marker(message_id), job.id, ex=24 * 3600)
        pipe.execute()
    return job


def enqueue_sync_bot(conversation_id):
    """Pause or resume Rasa on a conversation to match who holds it."""
    from .jobs import sync_bot

    return queue(MAINTENANCE).enqueue(
        sync_bot,
        conversation_id,
        job_timeout=60,
        retry=Retry(max=6, interval=[2, 5, 15, 30, 60, 300]),
        failure_ttl=7 * 24 * 3600,
    )


# Twilio busy (429/5xx): back off for about 10 minutes; a lost job is re-enqueued by the tick.
REMINDER_RETRY = Retry(max=6, interval=[2, 5, 15, 30, 60, 300])


def enqueue_reminder_send(ids, pipeline=None):
    from .jobs import send_reminders

    return queue(OUTBOUND).enqueue(
        send_reminders,
        list(ids),
        job_timeout=300,
        retry=REMINDER_RETRY,
        result_ttl=0,
        failure_ttl=7 * 24 * 3600,
        description=f"send {len(ids)} reminder(s)",
        pipeline=pipeline,
    )
