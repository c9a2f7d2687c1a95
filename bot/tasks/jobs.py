"""RQ jobs: plain functions that take ids, open their own app context and re-read rows."""

import logging
from contextlib import contextmanager
from datetime import timedelta

from redis.exceptions import LockError
from rq import get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job
from sqlalchemy import exists, select

from bot import audit
from bot.conversations import rasa_client
from bot.db import session as db_session
from bot.models import Conversation, Message, ScheduledMessage, utcnow
from bot.outbound import messaging
from bot.outbound.twilio_client import get_client
from bot.tasks import queues

log = logging.getLogger(__name__)
_app = None
# A message that has reached Rasa this many times without completing goes to the agents.
MAX_ATTEMPTS = 10


def job_app():
    """The app for jobs: built once per worker process (before fork), reused by every job."""
    global _app
    if _app is None:
        from bot import create_app

        _app = create_app()
    return _app


def set_job_app(app):
    global _app
    _app = app


class ConversationBusy(RuntimeError):
    """Another worker holds the conversation; the job retries."""


def _lock(conversation_id):
    from flask import current_app

    ttl = current_app.config["CONVERSATION_LOCK_TTL"]
    return queues.redis_conn().lock(_lock_key(conversation_id), timeout=ttl)


@contextmanager
def _holding(conversation_id):
    """The conversation's lock for the block (ConversationBusy, so the job retries, when
    another worker keeps it)."""
    lock = _lock(conversation_id)
    if not lock.acquire(blocking=True, blocking_timeout=lock.timeout + 5):
        raise ConversationBusy(f"conversation {conversation_id} is busy")
    try:
        yield lock
    finally:
        try:
            lock.release()
        except LockError:
            log.warning("conversation %s lock expired while held", conversation_id)


def _lock_key(conversation_id):
    return f"lock:conversation:{conversation_id}"


def _final_attempt():
    job = get_current_job()
    return job is None or not job.retries_left


def process_inbound(message_id):
    """Answer every unprocessed message of the message's conversation, in arrival order."""
    with job_app().app_context():
        s = db_session()
        message = s.get(Message, message_id)
        if message is None or message.direction != "in":
            return
        conversation_id = message.conversation_id
        s.commit()
        with _holding(conversation_id) as lock:
            _process_pending(s, conversation_id, lock)


def _next_pending(s, conversation_id):
    stmt = (
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.direction == "in")
        .where(Message.status == "received")
        .order_by(Message.id)
        .limit(1)
    )
    return s.execute(stmt).scalar_one_or_none()


def _process_pending(s, conversation_id, lock):
    while (message := _next_pending(s, conversation_id)) is not None:
        try:
            _handle(s, message, lock)
        except LockError:
            raise  # the lock expired and another worker holds the conversation: leave it to it
        except Exception as exc:
            if not _final_attempt():
                raise
            s.rollback()
            _give_up(s, message, "processing_error", exc)


def _handle(s, message, lock):
    conversation = message.conversation
    s.refresh(conversation)  # an agent may have taken it, or an action flagged it, meanwhile
    if conversation.state == "agent":
        message.status = "for_agent"
        s.commit()
        return
    replies = (
        s.execute(select(Message).where(Message.reply_to_id == message.id).order_by(Message.seq))
        .scalars()
        .all()
    )
    if not replies:
        if not message.button_payload:
            messaging.follow_language(s, conversation, message.body)
        metadata = {
            "channel": conversation.channel,
            "locale": messaging.conversation_locale(conversation),
            "message_id": message.id,
        }
        text = message.button_payload or messaging.chosen_payload(s, message) or message.body or ""
        message.attempts += 1
        s.commit()  # never hold a database transaction across an outside call
        lock.reacquire()
        try:
            if conversation.bot_paused:  # an agent gave it back but Rasa was not resumed yet
                rasa_client.resume(conversation.id)
                conversation.bot_paused = False
                s.commit()
            answers = None
            if message.attempts > 1:  # an earlier attempt may have reached Rasa
                answers = rasa_client.answers_already_given(conversation.id, message.id)
            if answers is None:
                answers = rasa_client.send(conversation.id, text, metadata)
        except rasa_client.RasaUnavailable as exc:
            if not _final_attempt():
                raise
            _give_up(s, message, "bot_unavailable", exc)
            return
        replies = messaging.record_replies(s, message, rasa_client.to_template_messages(answers))
        s.commit()
    client = get_client()
    for row in replies:
        lock.reacquire()
        s.refresh(conversation)
        if conversation.state == "agent":
            # An agent claimed it while Rasa was thinking: the agent speaks now, not the bot.
            _hold_for_agent(s, message, replies)
            return
        try:
            messaging.deliver(s, row, client)
        except messaging.ProviderUnavailable as exc:
            if not _final_attempt():
                raise
            row.status, row.error_message = "failed", str(exc)[:256]
            _give_up(s, message, "delivery_failure", exc)
            return
    message.status = "processed"
    message.processed_at = utcnow()
    s.commit()


def _hold_for_agent(s, message, replies):
    for row in replies:
        if row.status == "pending":
            row.status = "suppressed"
            row.error_message = "conversation taken by an agent"
    message.status = "for_agent"
    s.commit()


def _give_up(s, message, reason, exc):
    """Retries are spent: keep the message for agents, lose nothing."""
    log.error("message %s handed to agents after retries: %s", message.id, exc)
    message.status = "failed"
    message.error_message = str(exc)[:256]
    messaging.mark_for_agent(s, message.conversation, reason)
    audit.record(s, "worker", "message.failed", message, {"reason": reason})
    s.commit()


def sweep():
    """Re-enqueue inbound messages left unprocessed, e.g. after Redis lost its queue."""
    from flask import current_app

    s = db_session()
    cutoff = utcnow() - timedelta(seconds=current_app.config["SWEEP_MIN_AGE"])
    stale = s.execute(
        select(Message.id, Message.conversation_id, Message.attempts)
        .where(Message.direction == "in", Message.status == "received")
        .where(Message.created_at < cutoff)
        .order_by(Message.id)
        .limit(1000)
    ).all()
    s.commit()
    redis = queues.redis_conn()
    requeued = 0
    for message_id, conversation_id, attempts in stale:
        if attempts >= MAX_ATTEMPTS:
            message = s.get(Message, message_id)
            _give_up(s, message, "too_many_attempts", RuntimeError(f"{attempts} attempts"))
            continue
        if not _job_alive(redis, message_id, conversation_id):
            queues.enqueue_inbound(message_id)
            requeued += 1
    if requeued:
        log.warning("sweep re-enqueued %d unprocessed message(s)", requeued)
    return requeued + sweep_outbound(cutoff)


def _marked_job_status(redis, marker):
    """The status of the job a marker key names, or None when there is none."""
    job_id = redis.get(marker)
    if not job_id:
        return None
    try:
        return Job.fetch(job_id.decode(), connection=redis).get_status(refresh=False)
    except NoSuchJobError:
        return None


def _job_alive(redis, message_id, conversation_id):
    status = _marked_job_status(redis, queues.job_marker(message_id))
    if status in ("queued", "scheduled", "deferred"):
        return True
    if status == "started":
        # A started job whose worker died leaves the conversation lock to expire.
        return redis.exists(_lock_key(conversation_id)) == 1
    return False


def sandbox_status_callbacks(sandbox_message_id):
    """Sandbox mode: deliver the status callbacks Twilio would send for a message."""
    from bot.web.sandbox import post_status_callbacks

    with job_app().app_context():
        post_status_callbacks(sandbox_message_id)


def deliver_outbound(message_id):
    """Send one outbound message the bot or an agent started (not a reply); never twice."""
    with job_app().app_context():
        s = db_session()
        row = s.get(Message, message_id)
        if row is None or row.direction != "out" or row.status not in ("pending", "sending"):
            return
        try:
            messaging.deliver(s, row, get_client())
        except messaging.ProviderUnavailable as exc:
            if not _final_attempt():
                raise
            s.rollback()
            row.status, row.error_message = "failed", str(exc)[:256]
            messaging.mark_for_agent(s, row.conversation, "delivery_failure")
            audit.record(s, "worker", "message.failed", row, {"reason": "delivery_failure"})
            s.commit()


def sync_bot(conversation_id):
    """Pause Rasa's tracker while an agent holds the conversation; resume it otherwise.

    Runs under the conversation's lock, so it never interleaves with a bot turn (a resume
    resets forms); bot_paused always records what was last done to Rasa.
    """
    with job_app().app_context():
        s = db_session()
        conversation = s.get(Conversation, conversation_id)
        if conversation is None:
            return
        s.commit()
        with _holding(conversation_id):
            s.refresh(conversation)
            held = conversation.state == "agent"
            if held == conversation.bot_paused:
                return
            s.commit()  # no transaction open across the call to Rasa
            (rasa_client.pause if held else rasa_client.resume)(conversation_id)
            conversation.bot_paused = held
            s.commit()
            s.refresh(conversation)
            changed = (conversation.state == "agent") != held
        if changed:  # who holds it changed during the call: match the new state
            queues.enqueue_sync_bot(conversation_id)


def sweep_outbound(cutoff):
    """Re-enqueue messages the bot or an agent started (not replies) left without a job, e.g.
    when Redis was down as a payment's thank-you was committed; one left 'sending' by a killed
    worker is reconciled with Twilio by deliver() before anything is resent."""
    s = db_session()
    pending = (
        s.execute(
            select(Message.id)
            .where(Message.direction == "out", Message.status.in_(("pending", "sending")))
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
    redis = queues.redis_conn()
    requeued = 0
    for message_id in pending:
        status = _marked_job_status(redis, queues.outbound_marker(message_id))
        if status in ("queued", "scheduled", "deferred", "started"):
            continue
        queues.enqueue_outbound(message_id)
        requeued += 1
    if requeued:
        log.warning("sweep re-enqueued %d pending outbound message(s)", requeued)
    return requeued


def send_reminders(ids):
    """Send queued reminders, each through the shared per-sender rate limit."""
    from flask import current_app

    from bot.reminders import reminders

    with job_app().app_context():
        reminders.send(
            db_session(), ids, get_client(), _bucket_for(current_app._get_current_object())
        )


def _bucket_for(app):
    from bot.outbound.throttle import TokenBucket

    cache = app.extensions.setdefault("send_buckets", {})
    rate = app.config["SEND_RATE_PER_SECOND"]

    def bucket(channel):
        sender = app.config["TWILIO_WHATSAPP_FROM" if channel == "whatsapp" else "TWILIO_SMS_FROM"]
        if sender not in cache:
            cache[sender] = TokenBucket(queues.redis_conn(), sender, rate)
        return cache[sender]

    return bucket


def reminders_lock(timeout=600):
    """One dispatcher at a time (worker ticks and the CLI): a row is never gated twice."""
    return queues.redis_conn().lock("lock:reminders", timeout=timeout)


def reminders_tick(now=None, lock=None):
    """Plan today's reminders (at most every REMINDER_PLAN_INTERVAL), then dispatch what is
    due and re-enqueue sends whose job was lost. The database is the schedule."""
    from flask import current_app

    from bot.reminders import reminders

    s = db_session()
    redis = queues.redis_conn()
    interval = current_app.config["REMINDER_PLAN_INTERVAL"]
    if redis.set("reminders:planned", "1", nx=True, ex=max(interval, 1)):
        report = reminders.plan(s, now=now)
        if report.planned:
            log.info("reminders planned: %s", report.summary())
    from bot.payments import reconcile as payments

    # A promise breaks once its day has ended everywhere (a day of grace on the server's UTC
    # date), so an evening payment in America still keeps it and the day-after reminder runs.
    broken = payments.break_overdue_promises(s, today=utcnow().date() - timedelta(days=1))
    if broken:
        s.commit()
        log.info("%d promise(s) past their date marked broken", broken)
    report = reminders.dispatch(s, now=now, heartbeat=lock.reacquire if lock else None)
    requeued = reminders.requeue_stale(s, now=now)
    if report.queued or report.deferred or report.suppressed or requeued:
        log.info("reminders: %s; %d re-enqueued", report.summary(), requeued)
    return report
