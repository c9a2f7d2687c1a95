"""What the workers do between jobs: the sweep that finds work Redis lost, and the reminders
tick. The database is the source of truth; these only re-enqueue from it."""

import logging
from datetime import timedelta

from flask import current_app
from rq.exceptions import NoSuchJobError
from rq.job import Job
from sqlalchemy import exists, select

from bot import statuses
from bot.clock import utcnow
from bot.conversations.locks import is_held
from bot.conversations.turn import give_up
from bot.db import session as db_session
from bot.debts import promises
from bot.models import Message, ScheduledMessage
from bot.redis import redis_conn
from bot.reminders import dispatching, planning, sending
from bot.tasks import queues

log = logging.getLogger(__name__)
# A message that has reached Rasa this many times without completing goes to the agents.
MAX_ATTEMPTS = 10
ALIVE = ("queued", "scheduled", "deferred")


def sweep(now=None):
    """Re-enqueue inbound messages left unprocessed, e.g. after Redis lost its queue."""
    s = db_session()
    cutoff = (now or utcnow()) - timedelta(seconds=current_app.config["SWEEP_MIN_AGE"])
    stale = s.execute(
        select(Message.id, Message.conversation_id, Message.attempts)
        .where(Message.direction == statuses.IN, Message.status == statuses.Inbound.RECEIVED)
        .where(Message.created_at < cutoff)
        .order_by(Message.id)
        .limit(1000)
    ).all()
    s.commit()
    requeued = 0
    for message_id, conversation_id, attempts in stale:
        if attempts >= MAX_ATTEMPTS:
            message = s.get(Message, message_id)
            give_up(s, message, "too_many_attempts", RuntimeError(f"{attempts} attempts"))
            continue
        if not _job_alive(message_id, conversation_id):
            queues.enqueue("process_inbound", message_id)
            requeued += 1
    if requeued:
        log.warning("sweep re-enqueued %d unprocessed message(s)", requeued)
    return requeued + sweep_outbound(cutoff)


def _marked_job_status(job, message_id):
    """The status of the job a message's marker key names, or None when there is none."""
    redis = redis_conn()
    job_id = redis.get(queues.marker(job, message_id))
    if not job_id:
        return None
    try:
        return Job.fetch(job_id.decode(), connection=redis).get_status(refresh=False)
    except NoSuchJobError:
        return None


def _job_alive(message_id, conversation_id):
    status = _marked_job_status("process_inbound", message_id)
    if status in ALIVE:
        return True
    if status == "started":
        # A started job whose worker died leaves the conversation lock to expire.
        return is_held(conversation_id)
    return False


def sweep_outbound(cutoff):
    """Re-enqueue messages the bot or an agent started (not replies) left without a job, e.g.
    when Redis was down as a payment's thank-you was committed; one left 'sending' by a killed
    worker is reconciled with Twilio by deliver() before anything is resent."""
    s = db_session()
    pending = (
        s.execute(
            select(Message.id)
            .where(Message.direction == statuses.OUT)
            .where(Message.status.in_(statuses.Outbound.UNSENT))
            .where(Message.reply_to_id.is_(None), Message.created_at < cutoff)
            .where(Message.attempts < MAX_ATTEMPTS)
            # Reminders have their own re-enqueue, through the gate and the send rate limit.
            .where(~exists().where(ScheduledMessage.message_id == Message.id))
            .order_by(Message.id)
            .limit(1000)
        )
        .scalars()
        .all()
    )
    s.commit()
    requeued = 0
    for message_id in pending:
        if _marked_job_status("deliver_outbound", message_id) in (*ALIVE, "started"):
            continue
        queues.enqueue("deliver_outbound", message_id)
        requeued += 1
    if requeued:
        log.warning("sweep re-enqueued %d pending outbound message(s)", requeued)
    return requeued


def autodebit_lock(timeout=1800):
    """One auto-debit run at a time (worker jobs and the CLI)."""
    return redis_conn().lock("lock:autodebit", timeout=timeout)


def autodebit_tick(now=None):
    """Ask for an auto-debit run at most every AUTODEBIT_INTERVAL seconds of the clock, shared
    by all workers (0 turns it off); the run itself is idempotent."""
    interval = current_app.config["AUTODEBIT_INTERVAL"]
    if not interval or not current_app.config["AUTODEBIT_PROVIDER"]:
        return False
    now = now or utcnow()
    redis = redis_conn()
    last = redis.get("autodebit:asked_at")
    if last is not None and now.timestamp() - float(last) < interval:
        return False
    redis.set("autodebit:asked_at", repr(now.timestamp()))
    queues.enqueue("charge_autodebits")
    return True


def reminders_lock(timeout=600):
    """One dispatcher at a time (worker ticks and the CLI): a row is never gated twice."""
    return redis_conn().lock("lock:reminders", timeout=timeout)


def _planning_due(now):
    """True at most every REMINDER_PLAN_INTERVAL seconds of the clock (shared by all workers):
    the last planning time is kept in Redis as a timestamp, so a simulated clock plans too."""
    interval = current_app.config["REMINDER_PLAN_INTERVAL"]
    redis = redis_conn()
    last = redis.get("reminders:planned_at")
    if last is not None and now.timestamp() - float(last) < interval:
        return False
    redis.set("reminders:planned_at", repr(now.timestamp()))
    return True


def reminders_tick(now=None, lock=None):
    """Plan today's reminders (at most every REMINDER_PLAN_INTERVAL), then dispatch what is
    due and re-enqueue sends whose job was lost. The database is the schedule."""
    s = db_session()
    now = now or utcnow()
    if _planning_due(now):
        report = planning.plan(s, now=now)
        if report.planned:
            log.info("reminders planned: %s", report.summary())
    # A promise breaks once its day has ended everywhere (a day of grace on the UTC date), so
    # an evening payment in America still keeps it and the day-after reminder runs.
    broken = promises.break_overdue_promises(s, today=now.date() - timedelta(days=1))
    if broken:
        s.commit()
        log.info("%d promise(s) past their date marked broken", broken)
    report = dispatching.dispatch(s, now=now, heartbeat=lock.reacquire if lock else None)
    requeued = sending.requeue_stale(s, now=now)
    if report.queued or report.deferred or report.suppressed or requeued:
        log.info("reminders: %s; %d re-enqueued", report.summary(), requeued)
    return report
