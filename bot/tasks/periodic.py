"""What the workers do between jobs: the sweep that finds work Redis lost, the reminders tick
and the request for the daily accrual. The database is the source of truth; these only
re-enqueue from it."""

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import exists, select

from bot import outbox, statuses
from bot.clock import utcnow
from bot.conversations import rasa_client, turn
from bot.conversations.locks import is_held
from bot.db import session as db_session
from bot.debts import promises
from bot.ledger import daily
from bot.ledger import settlement as ledger_settlement
from bot.models import Message, ScheduledMessage
from bot.outbound.twilio_client import get_client
from bot.redis import redis_conn
from bot.reminders import dispatching, planning, sending
from bot.tasks import queues

log = logging.getLogger(__name__)
# A message tried this many times (each try its own, counted on the message) that still has
# not completed after the outage bound goes to the agents: it may be what kills the worker.
MAX_ATTEMPTS = 100
ALIVE = queues.ALIVE


def sweep(now=None):
    """Re-enqueue inbound messages left unprocessed, e.g. after Redis lost its queue, and try
    again those given up during an outage once the dependency answers."""
    s = db_session()
    now = now or utcnow()
    cutoff = now - timedelta(seconds=current_app.config["SWEEP_MIN_AGE"])
    stale = s.execute(
        select(Message.id, Message.conversation_id)
        .where(Message.direction == statuses.IN, Message.status == statuses.Inbound.RECEIVED)
        .where(Message.created_at < cutoff)
        .order_by(Message.id)
        .limit(1000)
    ).all()
    s.commit()
    requeued = 0
    for message_id, conversation_id in stale:
        if _job_alive(message_id, conversation_id):
            continue
        message = s.get(Message, message_id)
        if message.attempts >= MAX_ATTEMPTS and turn.outage_over(message, now):
            turn.give_up(s, message, "too_many_attempts", RuntimeError("too many attempts"))
            continue
        s.commit()
        queues.enqueue("process_inbound", message_id)
        requeued += 1
    if requeued:
        log.warning("sweep re-enqueued %d unprocessed message(s)", requeued)
    return requeued + sweep_outbound(cutoff) + revive_failed(now)


def revive_failed(now):
    """Messages given up during an outage are tried again once the dependency answers
    (Rasa's health check; a one-item list of Twilio's messages): the debtor gets the answer,
    and a conversation queued only because of the outage leaves the agents' queue."""
    s = db_session()
    revived = 0
    for code, up in ((turn.BOT_DOWN, rasa_client.healthy), (turn.TWILIO_DOWN, _twilio_up)):
        failed = turn.failed_by_outage(s, now, code)
        if not failed or not up():
            continue
        for message in failed:
            turn.revive(s, message)
            outbox.later(s, "process_inbound", message.id)
        revived += len(failed)
    revived += _revive_outbound(s, now)
    s.commit()
    if revived:
        log.warning("sweep tries again %d message(s) given up during an outage", revived)
    return revived


def _revive_outbound(s, now):
    """Agents' replies and thank-yous given up while Twilio was down, sent once it answers."""
    since = now - timedelta(hours=current_app.config["FAILED_RETRY_HOURS"])
    rows = (
        s.execute(
            select(Message)
            .where(Message.direction == statuses.OUT, Message.reply_to_id.is_(None))
            .where(Message.status == statuses.Outbound.FAILED)
            .where(Message.error_code.in_((turn.UNSENT, turn.UNCERTAIN)))
            .where(Message.created_at >= since)
            .where(~exists().where(ScheduledMessage.message_id == Message.id))
            .order_by(Message.id)
            .limit(1000)
        )
        .scalars()
        .all()
    )
    if not rows or not _twilio_up():
        return 0
    for row in rows:
        uncertain = row.error_code == turn.UNCERTAIN
        row.status = statuses.Outbound.SENDING if uncertain else statuses.Outbound.PENDING
        row.error_code = row.error_message = row.first_attempt_at = None
        outbox.later(s, "deliver_outbound", row.id)
    return len(rows)


def _twilio_up():
    try:
        get_client().messages.list(limit=1)
    except Exception:  # any failure means not yet: the next sweep asks again
        return False
    return True


def _job_alive(message_id, conversation_id):
    status = queues.marked_job_status("process_inbound", message_id)
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
        if queues.marked_job_status("deliver_outbound", message_id) in (*ALIVE, "started"):
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


def accrual_lock(timeout=3600):
    """One accrual at a time (workers' ticks and the CLI)."""
    return redis_conn().lock("lock:accrual", timeout=timeout)


def accrue(now=None):
    """Run the daily accrual now, unless another run holds the lock; returns its Report or
    None. Settlements past their date expire first (their debtors' day has ended)."""
    lock = accrual_lock()
    if not lock.acquire(blocking=False):
        log.info("accrual already running elsewhere")
        return None
    try:
        s = db_session()
        now = now or utcnow()
        expired = ledger_settlement.expire_overdue(s, now.date() - timedelta(days=1))
        s.commit()
        if expired:
            log.info("%d settlement(s) past their date expired", expired)
        return daily.run(s, now=now, batch_size=current_app.config["ACCRUAL_BATCH"])
    finally:
        try:
            lock.release()
        except Exception:  # expired during a very long run: nothing to undo
            log.warning("accrual lock expired during the run")


def accrual_tick(now=None):
    """Ask for the accrual job at most every ACCRUAL_INTERVAL seconds of the clock (shared by
    all workers through Redis); True when it was enqueued."""
    interval = current_app.config["ACCRUAL_INTERVAL"]
    if interval <= 0:
        return False
    now = now or utcnow()
    redis = redis_conn()
    last = redis.get("ledger:accrual_at")
    if last is not None and now.timestamp() - float(last) < interval:
        return False
    redis.set("ledger:accrual_at", repr(now.timestamp()))
    queues.enqueue("accrue_ledger")
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
