"""RQ jobs: plain functions that take ids, open their own app context, re-read their rows and
hand the work to a domain service. Enqueued by name through bot.tasks.queues."""

import logging
import os

from flask.cli import ScriptInfo
from rq import get_current_job

from bot import audit, channels, statuses
from bot.clock import utcnow
from bot.conversations import handover
from bot.conversations.escalation import mark_for_agent
from bot.conversations.locks import holding
from bot.conversations.turn import UNCERTAIN, UNSENT, answer_pending, next_pending, outage_over
from bot.db import session as db_session
from bot.debts import media_claims
from bot.models import Message, Payment
from bot.outbound import sandbox
from bot.outbound.deliver import ProviderUnavailable, deliver
from bot.outbound.throttle import TokenBucket
from bot.outbound.twilio_client import get_client
from bot.payments import autodebit, documents, receipts
from bot.redis import redis_conn
from bot.reminders import sending
from bot.tasks import periodic, queues
from bot.tasks.periodic import autodebit_lock

log = logging.getLogger(__name__)
_app = None


def job_app():
    """The app for jobs: set by the worker command (built once per process, before any fork);
    elsewhere (a bare `rq worker`) located by name from FLASK_APP, as the flask command does."""
    global _app
    if _app is None:
        _app = ScriptInfo(app_import_path=os.environ.get("FLASK_APP", "bot")).load_app()
    return _app


def set_job_app(app):
    global _app
    _app = app


def final_attempt():
    """True on the job's last try (or outside RQ): time to give up and lose nothing."""
    job = get_current_job()
    return job is None or not job.retries_left


def process_inbound(message_id):
    """Answer every unprocessed message of the message's conversation, in arrival order."""
    with job_app().app_context():
        s = db_session()
        message = s.get(Message, message_id)
        if message is None or message.direction != statuses.IN:
            return
        conversation_id = message.conversation_id
        oldest = next_pending(s, conversation_id)
        s.commit()
        if oldest is not None and oldest.id != message_id and _has_own_job(oldest.id):
            # The older message's job answers this one after it: only the message actually
            # tried counts an attempt, however many of its conversation's jobs are queued.
            return
        with holding(conversation_id) as lock:
            answer_pending(s, conversation_id, lock, get_client(), final_attempt)


def _has_own_job(message_id):
    """True when the message's own job is waiting or running (the sweep re-enqueues it if
    it is lost, so a job deferring to it never strands this message)."""
    return queues.marked_job_status("process_inbound", message_id) in (*queues.ALIVE, "started")


def deliver_outbound(message_id):
    """Send one outbound message the bot or an agent started (not a reply); never twice."""
    with job_app().app_context():
        s = db_session()
        row = s.get(Message, message_id)
        if row is None or row.direction != statuses.OUT:
            return
        if row.status not in statuses.Outbound.UNSENT:
            return
        if row.first_attempt_at is None:
            row.first_attempt_at = utcnow()
            s.commit()
        try:
            deliver(s, row, get_client())
        except ProviderUnavailable as exc:
            if not outage_over(row):
                raise
            s.rollback()
            # Failed for now; tried again once Twilio answers (periodic.revive_failed).
            row.error_code = UNCERTAIN if row.status == statuses.Outbound.SENDING else UNSENT
            row.status, row.error_message = statuses.Outbound.FAILED, str(exc)[:256]
            mark_for_agent(s, row.conversation, "delivery_failure")
            audit.record(s, "worker", "message.failed", row, {"reason": "delivery_failure"})
            s.commit()


def sync_bot(conversation_id):
    """Pause Rasa while an agent holds the conversation; resume it otherwise."""
    with job_app().app_context():
        handover.sync_bot(db_session(), conversation_id)


def receive_media(message_id):
    """Fetch, check and keep the files of an inbound message (receipts to verify) and answer;
    a usable one is an already-paid claim (collection pauses until an agent decides)."""
    with job_app().app_context():
        s = db_session()
        message = s.get(Message, message_id)
        if message is None or message.direction != statuses.IN:
            return
        found = receipts.receive(s, message, final_attempt=final_attempt())
        media_claims.claim_for_receipts(s, message, found)
        s.commit()


def issue_documents(payment_id):
    """The receipt of a payment (and the paz y salvo when it settled the account), sent."""
    with job_app().app_context():
        s = db_session()
        payment = s.get(Payment, payment_id)
        if payment is None:
            return
        documents.issue_after_payment(s, payment)
        s.commit()


def charge_autodebits():
    """Charge the installments due today on active auto-debits (idempotent: run it often)."""
    with job_app().app_context():
        lock = autodebit_lock()
        if not lock.acquire(blocking=False):
            return  # another run is at it
        try:
            report = autodebit.run(db_session())
            log.info("auto-debit: %s", report)
        finally:
            try:
                lock.release()
            except Exception:  # expired during a very long run
                log.warning("auto-debit lock expired during the run")


def sandbox_status_callbacks(sandbox_message_id):
    """Sandbox mode: deliver the status callbacks Twilio would send for a message."""
    with job_app().app_context():
        sandbox.post_status_callbacks(sandbox_message_id)


def accrue_ledger():
    """The daily accrual of interest and late fees over every account, one run at a time
    (a second run finds the accounts accrued and adds nothing)."""
    with job_app().app_context():
        periodic.accrue()


def send_reminders(ids):
    """Send queued reminders, each through the shared per-sender rate limit."""
    app = job_app()
    with app.app_context():
        sending.send(db_session(), ids, get_client(), _buckets(app))


def _buckets(app):
    """bucket(channel): the token bucket of the channel's sender, shared by all workers."""
    cache = app.extensions.setdefault("send_buckets", {})
    rate = app.config["SEND_RATE_PER_SECOND"]

    def bucket(channel):
        sender = channels.sender(app.config, channel)
        if sender not in cache:
            cache[sender] = TokenBucket(redis_conn(), sender, rate)
        return cache[sender]

    return bucket


def analytics_rollup():
    """Recompute the results dashboard's recent days (one run at a time)."""
    from bot.analytics import rollup

    with job_app().app_context():
        lock = redis_conn().lock("lock:analytics", timeout=3600)
        if not lock.acquire(blocking=False):
            return None  # another worker is at it
        try:
            return len(rollup.rollup_recent(db_session()))
        finally:
            lock.release()
