"""Sending one outbound row through the official twilio client, never twice.

A row is marked 'sending' (committed) before the request; when the outcome of that request is
unknown (timeout, worker killed), a later attempt first asks Twilio whether it took the message.
"""

import json
from datetime import timedelta, timezone

import requests
from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value
from twilio.base.exceptions import TwilioRestException

from bot import channels, hooks, metrics, statuses
from bot.clock import utcnow
from bot.models import Message
from bot.outbound import email
from bot.outbound.errors import ProviderUnavailable
from bot.outbound.status import OUTSIDE_WINDOW, apply_early_status

Out = statuses.Outbound
__all__ = ["ProviderUnavailable", "claim", "deliver", "create_params", "record_outcome"]


def status_callback_url():
    return current_app.config["PUBLIC_BASE_URL"] + "/webhooks/twilio/status"


def _definitely_not_sent(exc):
    """True when the request never reached Twilio (refused connection, connect timeout)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    text = repr(exc)
    return "NewConnectionError" in text or "Connection refused" in text


def _naive_utc(moment):
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def _reconcile(session, client, row, to, sender):
    """A send was interrupted: find the message Twilio took, if it took one.

    A match has the same body, was created at or after the row went to 'sending' (less a
    minute for clock skew) and carries a SID no other message of ours has recorded, so an
    earlier reply with the same words is never mistaken for this one. Twilio lists newest
    first; queued messages have no date sent yet, so the filter is on the date created.
    """
    since = row.updated_at - timedelta(minutes=1)
    known = set(
        session.execute(
            select(Message.provider_sid).where(
                Message.conversation_id == row.conversation_id, Message.provider_sid.isnot(None)
            )
        ).scalars()
    )
    for sent in client.messages.list(to=to, from_=sender, limit=50):
        created = _naive_utc(sent.date_created)
        if created is not None and created < since:
            continue
        # Twilio fills a template's body itself: a template send matches on the SID alone.
        if (row.content_sid or sent.body == row.body) and sent.sid not in known:
            return sent
    return None


def deliver(session, row, client):
    """Send one pending outbound row with the twilio client (an e-mail through the mailer);
    never twice."""
    if row.status not in Out.UNSENT:
        return
    conversation = row.conversation
    if conversation.channel == channels.EMAIL:
        email.deliver(session, row)
        return
    to = channels.address(conversation.channel, conversation.address)
    sender = channels.sender(current_app.config, conversation.channel)
    if row.status == Out.SENDING:
        try:
            found = _reconcile(session, client, row, to, sender)
        except (TwilioRestException, requests.RequestException) as exc:
            raise ProviderUnavailable(f"cannot check an interrupted send: {exc}") from exc
        if found is not None:
            row.provider_sid, row.status = found.sid, found.status or "queued"
            session.commit()
            apply_early_status(session, row)
            return
    claimed = claim(session, row)
    session.commit()
    if not claimed:
        return  # another worker took it meanwhile: it sends it, or reconciles it
    try:
        sent, error = client.messages.create(**create_params(row)), None
    except (TwilioRestException, requests.RequestException) as exc:
        sent, error = None, exc
    retry = record_outcome(session, row, sent, error)
    session.commit()
    if retry is not None:
        raise retry from error
    if sent is not None:
        apply_early_status(session, row)


def claim(session, row):
    """Mark row 'sending' before its request, in one conditional UPDATE from the state this
    session read (its status and attempts): of two jobs that read the same row, one claims it
    and the other gets False and must not call Twilio. The caller commits."""
    now = utcnow()
    result = session.execute(
        update(Message)
        .where(
            Message.id == row.id,
            Message.status == row.status,
            Message.attempts == row.attempts,
        )
        .values(status=Out.SENDING, attempts=Message.attempts + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:
        session.expire(row)  # read again: another job moved it on
        return False
    for name, value in (("status", Out.SENDING), ("attempts", row.attempts + 1)):
        set_committed_value(row, name, value)
    set_committed_value(row, "updated_at", now)
    return True


def create_params(row):
    """The messages.create arguments for an outbound row: its text, or its approved template."""
    conversation = row.conversation
    params = {
        "to": channels.address(conversation.channel, conversation.address),
        "from_": channels.sender(current_app.config, conversation.channel),
        "status_callback": status_callback_url(),
    }
    if row.content_sid:
        params["content_sid"] = row.content_sid
        params["content_variables"] = json.dumps(row.content_variables or {})
    else:
        params["body"] = row.body
        if row.media:  # Twilio fetches each URL itself (a signed, expiring link to the file)
            params["media_url"] = [item["url"] for item in row.media]
    return params


def record_outcome(session, row, sent, error):
    """Apply a create's result to a row marked 'sending' (the caller commits); return the
    ProviderUnavailable to raise when the send must be retried, else None."""
    if error is None:
        metrics.observe_send("sent")
        row.provider_sid, row.status = sent.sid, sent.status or "queued"
        return None
    if isinstance(error, TwilioRestException):
        if error.status == 429 or error.status >= 500:
            metrics.observe_send("retry")
            # 429 means not taken; a 5xx may come after Twilio took it, so check before resending.
            row.status = Out.PENDING if error.status == 429 else Out.SENDING
            return ProviderUnavailable(f"Twilio answered HTTP {error.status}")
        metrics.observe_send("refused")
        row.status, row.error_code = Out.FAILED, str(error.code or error.status)
        row.error_message = (error.msg or "")[:256]
        # A reminder refused for the 24-hour window moves on when its send is settled.
        if row.error_code != OUTSIDE_WINDOW:
            hooks.delivery_failed.first(session, row, row.error_code)
        return None
    metrics.observe_send("unreachable")
    if _definitely_not_sent(error):
        row.status = Out.PENDING
    return ProviderUnavailable(f"Twilio not reachable: {type(error).__name__}")
