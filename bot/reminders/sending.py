"""Sending queued reminders through the shared per-sender rate limit, never twice; checked once
more against the contact decision at send time (a reminder may have waited through an outage);
Twilio's 63016 (outside WhatsApp's window) falls back to SMS where the rule allows it."""

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import requests
from flask import current_app
from redis.exceptions import LockError
from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value
from twilio.base.exceptions import TwilioRestException

from bot import audit, channels, outbox, statuses
from bot.clock import utcnow
from bot.contact import log as contact_log
from bot.contact.decision import DISCREET_KEYS, Context, decide, may_contact
from bot.conversations.inbound import get_or_create_conversation
from bot.models import Account, Debtor, Message, ScheduledMessage
from bot.outbound import email
from bot.outbound.compose import conversation_locale
from bot.outbound.deliver import (
    ProviderUnavailable,
    claim,
    create_params,
    deliver,
    record_outcome,
)
from bot.outbound.status import OUTSIDE_WINDOW, apply_early_status
from bot.redis import redis_conn
from bot.reminders.gate import past_expiry

log = logging.getLogger(__name__)
Out = statuses.Outbound
CLEARED = "reminders.cleared"
QUEUED = statuses.Reminder.QUEUED


def send(session, ids, client, bucket_for, threads=8, now=None):
    """Send queued reminders through the shared rate limit; never twice.

    The batch is marked 'sending' in one commit, sent by a few threads (each request waits
    for a token of the sender's bucket), and the outcomes are recorded in one commit: a
    send whose outcome is unknown stays 'sending' and is reconciled with Twilio before any
    resend (bot.outbound.deliver). A Twilio outage raises ProviderUnavailable for the job to
    retry; the rows already sent stay sent."""
    locks = []
    try:
        for sm_id in ids:
            # A re-enqueued job may overlap a slow one: one sender per reminder at a time.
            lock = redis_conn().lock(f"lock:reminder:{sm_id}", timeout=300)
            if lock.acquire(blocking=False):
                locks.append((sm_id, lock))
        _send_locked(session, [sm_id for sm_id, _ in locks], client, bucket_for, threads, now)
    finally:
        for sm_id, lock in locks:
            try:
                lock.release()
            except LockError:
                log.warning("reminder %s lock expired while sending", sm_id)


def _send_locked(session, ids, client, bucket_for, threads, now=None):
    if not ids:
        return
    rows = session.execute(
        select(ScheduledMessage, Message)
        .join(Message, Message.id == ScheduledMessage.message_id)
        .where(ScheduledMessage.id.in_(ids), ScheduledMessage.status == QUEUED)
        .order_by(ScheduledMessage.id)
        .execution_options(populate_existing=True)
    ).all()
    retry = None
    fresh, emails = [], []
    cache = {}  # e-mail template rows, looked up once per batch
    now = now or utcnow()
    held_back = _held_back(session, rows, now)
    for sm, message in rows:
        if message.status == Out.PENDING and sm.id in held_back:
            _hold_back(session, sm, message, *held_back[sm.id], now=now)
            continue
        if message.status == Out.SENDING:  # an earlier attempt was interrupted: reconcile first
            try:
                deliver(session, message, client)
            except ProviderUnavailable as exc:
                retry = retry or exc
                continue
            _settle(session, sm, message)
        elif message.status == Out.PENDING and message.conversation.channel == channels.EMAIL:
            sm.attempts += 1
            locale = conversation_locale(message.conversation)
            emails.append((sm, message, email.prepare(session, message, locale, cache)))
        elif message.status == Out.PENDING:
            if not claim(session, message):
                continue  # another job claimed it since this one read it: it sends it
            sm.attempts += 1
            fresh.append((sm, message, create_params(message)))
        else:
            _settle(session, sm, message)
    session.commit()
    if fresh:
        retry = _send_fresh(session, fresh, client, bucket_for, threads) or retry
    if emails:
        retry = _send_emails(session, emails, bucket_for) or retry
    if retry is not None:
        raise retry


def _send_emails(session, emails, bucket_for):
    """E-mails of a batch, one after the other over the process's kept SMTP connection, each
    through the e-mail sender's rate limit; a server that is down stops the batch (the rest
    stays pending for the retry)."""
    retry = None
    try:
        mailer, bucket = email.get_mailer(), bucket_for(channels.EMAIL)
    except ProviderUnavailable as exc:
        mailer, retry = None, exc
    for sm, message, msg in emails:
        if mailer is None or not bucket.take():
            message.status = Out.PENDING  # never sent
            retry = retry or ProviderUnavailable("send rate limit: no token in time")
            continue
        try:
            mailer.send(msg)
            error = None
        except (email.MailUnavailable, email.MailRejected) as exc:
            error = exc
        retry = email.record(session, message, error) or retry
        if message.status == email.SENT:
            sm.contacted_at = utcnow()
        elif isinstance(error, email.MailUnavailable):
            mailer = None  # the server is down: the rest waits for the retry
    session.commit()
    for sm, message, _msg in emails:
        _settle(session, sm, message)
    session.commit()
    return retry


def _held_back(session, rows, now):
    """The contact decision again at send time: a queued reminder may have waited through an
    outage while the debtor opted out, paid, disputed or was taken by an agent, the night came,
    WhatsApp's window closed or a verification lock made the number discreet again.
    {reminder id: (reason, defer until or None to suppress, decision)}."""
    pending = [(sm, m) for sm, m in rows if m.status == Out.PENDING]
    if not pending:
        return {}
    debtors = {
        d.id: d
        for d in session.execute(
            select(Debtor).where(Debtor.id.in_({sm.debtor_id for sm, _ in pending}))
        ).scalars()
    }
    accounts = {
        a.id: a
        for a in session.execute(
            select(Account).where(Account.id.in_({sm.account_id for sm, _ in pending}))
        ).scalars()
    }
    # A reminder rechecked here is not its own contact: its dispatch counted it.
    ctx = Context.load(session, now).load_debtors(
        session, list(debtors), now, exclude_reminders=[sm.id for sm, _ in pending]
    )
    max_delay = timedelta(hours=current_app.config["REMINDER_MAX_DELAY_HOURS"])
    out = {}
    cleared = session.info.setdefault(CLEARED, {})  # the send-time decisions, for the log
    for sm, message in pending:
        decision = decide(
            ctx,
            ctx.facts(debtors[sm.debtor_id]),
            now,
            "reminder",
            (message.conversation.channel,),
            template_key=message.template_key,
            account_status=accounts[sm.account_id].status,
        )
        if decision.action == "suppress" and decision.reason == "no_approved_template":
            # Free text and WhatsApp's window closed since dispatch: gate it again now (an
            # approved template, or SMS where the rule allows it).
            out[sm.id] = ("window_closed", now, decision)
        elif decision.action == "suppress":
            out[sm.id] = (decision.reason, None, decision)
        elif decision.reason == "agent_held":
            # Waits for the hand-back; the wait does not count against its expiry.
            sm.expires_at = max(sm.expires_at, decision.next_at + max_delay)
            out[sm.id] = (decision.reason, decision.next_at, decision)
        elif now > sm.expires_at:
            out[sm.id] = (past_expiry(sm, "send_late"), None, decision)
        elif decision.action == "defer" and decision.next_at > sm.expires_at:
            out[sm.id] = (past_expiry(sm, decision.reason), None, decision)
        elif decision.action == "defer":
            out[sm.id] = (decision.reason, decision.next_at, decision)
        elif message.content_sid is None and decision.content_sid:
            out[sm.id] = ("window_closed", now, decision)  # free text no longer allowed
        elif decision.template_key in DISCREET_KEYS and message.template_key not in DISCREET_KEYS:
            out[sm.id] = ("discreet_needed", now, decision)  # locked since it was rendered
        else:
            ctx.contacted(sm.debtor_id, now, message.conversation.channel)
            cleared[sm.id] = decision
    return out


def _hold_back(session, sm, message, reason, until, decision=None, now=None):
    """Not now after all: the message is never sent and does not count as a contact; the
    reminder waits (the next dispatch gates it again) or is suppressed."""
    message.status = Out.SUPPRESSED
    message.error_message = f"held back at send time: {reason}"
    sm.contacted_at = None
    contact_log.write(
        session,
        [
            contact_log.event(
                now or utcnow(),
                sm.debtor_id,
                "reminder",
                "held_back",
                decision,
                reason=reason,
                next_at=until,
                account_id=sm.account_id,
                scheduled_id=sm.id,
                message_id=message.id,
                channel=message.conversation.channel,
                template_key=message.template_key,
            )
        ],
    )
    if until is None:
        suppress(session, sm, reason, actor="worker")
        return
    sm.status, sm.reason, sm.due_at = statuses.Reminder.DEFERRED, reason, until
    audit.record(
        session, "worker", "reminder.deferred", sm, {"reason": reason, "until": str(until)}
    )


def _send_fresh(session, fresh, client, bucket_for, threads):
    # Buckets are made here, in the job's app context; the pool's threads only use them.
    buckets = {m.conversation.channel: None for _sm, m, _p in fresh}
    buckets = {channel: bucket_for(channel) for channel in buckets}

    def create(message, params):
        if not buckets[message.conversation.channel].take():
            raise _NoToken()
        return client.messages.create(**params)

    # create_params loaded each message's conversation in this thread: the pool's threads
    # only read it, and never touch the session.
    with ThreadPoolExecutor(max_workers=min(threads, len(fresh))) as pool:
        futures = [pool.submit(create, message, params) for _sm, message, params in fresh]
        outcomes = []
        for future in futures:
            try:
                outcomes.append((future.result(), None))
            except (TwilioRestException, requests.RequestException, _NoToken) as exc:
                outcomes.append((None, exc))
    # When the provider accepted them (at the latest): what the caps count from now on.
    accepted = utcnow()
    retry = None
    for (sm, message, _params), (sent, error) in zip(fresh, outcomes, strict=True):
        if isinstance(error, _NoToken):
            message.status = Out.PENDING  # never sent
            retry = retry or ProviderUnavailable("send rate limit: no token in time")
            continue
        retry = record_outcome(session, message, sent, error) or retry
        if message.provider_sid:
            sm.contacted_at = accepted
    session.commit()
    for sm, message, _params in fresh:
        if message.provider_sid:
            apply_early_status(session, message)
        _settle(session, sm, message)
    session.commit()
    return retry


class _NoToken(RuntimeError):
    """The rate limit gave no token in time; the message was not sent."""


def _settle(session, sm, message):
    """Move the reminder on from its message's state (the caller commits)."""
    if sm.message_id != message.id or sm.status != QUEUED:
        return  # a 63016 callback already moved it on to its SMS fallback
    if message.status == Out.FAILED and message.error_code == OUTSIDE_WINDOW:
        _outside_window(session, sm, message)
    elif message.status == Out.FAILED:
        code = message.error_code or ""
        reason = code if code.startswith("smtp:") else f"twilio:{code}"
        # contacted_at: never reached the debtor, so not a contact.
        failed = {"status": statuses.Reminder.FAILED, "reason": reason, "contacted_at": None}
        if _move_on(session, sm, message, (QUEUED,), **failed):
            audit.record(session, "worker", "reminder.failed", sm, {"error": message.error_code})
            _log_outcome(session, sm, message, "failed", reason)
    elif message.status not in Out.UNSENT:
        if _move_on(session, sm, message, (QUEUED,), status=statuses.Reminder.SENT):
            _log_outcome(session, sm, message, "sent", None)


def _move_on(session, sm, message, from_statuses, **values):
    """Move sm on from message in one conditional UPDATE: only while it still points at message
    in one of from_statuses. The send job and the status callback's hook both settle a
    reminder, each from what its own session read; whichever comes second finds the row moved
    on (False) and does nothing, so a 63016 makes one fallback and a sent row never overwrites
    one. sm's attributes follow the row either way."""
    values.setdefault("updated_at", utcnow())
    result = session.execute(
        update(ScheduledMessage)
        .where(
            ScheduledMessage.id == sm.id,
            ScheduledMessage.message_id == message.id,
            ScheduledMessage.status.in_(from_statuses),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:
        session.refresh(sm)  # another path moved it on: see where to
        return False
    for name, value in values.items():
        set_committed_value(sm, name, value)
    session.expire(sm, ["message"])
    return True


def _log_outcome(session, sm, message, action, reason):
    at = sm.contacted_at or utcnow()
    # The zones the send-time check held the moment against (when it ran in this job).
    decision = session.info.get(CLEARED, {}).pop(sm.id, None)
    contact_log.write(
        session,
        [
            contact_log.event(
                at,
                sm.debtor_id,
                "reminder",
                action,
                reason=reason,
                zones=decision.zones if decision is not None else (),
                pack=decision.pack if decision is not None else None,
                account_id=sm.account_id,
                scheduled_id=sm.id,
                message_id=message.id,
                channel=message.conversation.channel,
                template_key=message.template_key,
            )
        ],
    )


def _outside_window(session, sm, message):
    """Twilio said 63016 (outside the 24-hour window): SMS when allowed, else suppress."""
    debtor = session.get(Debtor, sm.debtor_id)
    if message.conversation.channel == channels.WHATSAPP:
        decision = may_contact(session, debtor, channels.SMS, utcnow(), "fallback")
        if decision.allowed:
            conversation = get_or_create_conversation(session, channels.SMS, debtor.phone)
            fallback = Message(
                conversation_id=conversation.id,
                direction=statuses.OUT,
                template_key=message.template_key,
                variables=message.variables,
                body=message.body,
                status=Out.PENDING,
            )
            session.add(fallback)
            session.flush()
            moved = _move_on(
                session,
                sm,
                message,
                (QUEUED, statuses.Reminder.SENT),
                message_id=fallback.id,
                channel=channels.SMS,
                reason="fallback:63016",
                status=QUEUED,
            )
            if not moved:  # the other path already fell back (or settled it): no second SMS
                session.delete(fallback)
                session.commit()
                return
            audit.record(
                session,
                "worker",
                "reminder.fallback",
                sm,
                {"from": "whatsapp", "to": "sms", "error": OUTSIDE_WINDOW},
            )
            outbox.later(session, "send_reminders", [sm.id])
            session.commit()
            return
    # contacted_at: refused by WhatsApp, it never reached the debtor.
    suppressed = {"status": statuses.Reminder.SUPPRESSED, "reason": "outside_window"}
    if _move_on(
        session, sm, message, (QUEUED, statuses.Reminder.SENT), contacted_at=None, **suppressed
    ):
        audit.record(session, "worker", "reminder.suppressed", sm, {"reason": "outside_window"})


def outside_window(session, message):
    """A status callback said 63016 for message: handle it if a reminder sent it."""
    sm = session.execute(
        select(ScheduledMessage).where(ScheduledMessage.message_id == message.id)
    ).scalar_one_or_none()
    if sm is None:
        return False
    if sm.status not in (QUEUED, statuses.Reminder.SENT):
        return True
    session.refresh(message)
    _outside_window(session, sm, message)
    session.commit()
    return True


def requeue_stale(session, now=None, after=None):
    """Re-enqueue queued reminders whose send job was lost (Redis flushed, retries spent)."""
    now = now or utcnow()
    after = after if after is not None else current_app.config["REMINDER_REQUEUE_AFTER"]
    ids = list(
        session.execute(
            select(ScheduledMessage.id)
            .where(ScheduledMessage.status == QUEUED)
            .where(ScheduledMessage.updated_at < now - timedelta(seconds=after))
            .limit(5000)
        ).scalars()
    )
    session.commit()
    if ids:
        # Touch them so the next sweep waits again before re-enqueueing.
        session.execute(
            ScheduledMessage.__table__.update()
            .where(ScheduledMessage.id.in_(ids))
            .values(updated_at=now)
        )
        outbox.later(session, "send_reminders", ids)
        session.commit()
    return len(ids)


def suppress(session, sm, reason, actor="gate"):
    sm.status, sm.reason = statuses.Reminder.SUPPRESSED, reason
    audit.record(session, actor, "reminder.suppressed", sm, {"reason": reason})
