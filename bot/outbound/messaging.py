"""Inbound storage, outbound delivery through Twilio, and delivery-status updates."""

import json
import logging
import re
from datetime import timedelta, timezone

import requests
from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from twilio.base.exceptions import TwilioRestException

from bot import audit, phones
from bot.conversations import language
from bot.models import Conversation, Debtor, Message, TemplateKey, utcnow
from bot.templates import store as templates

log = logging.getLogger(__name__)

CHANNELS = {"whatsapp": "whatsapp:"}
# Delivery statuses in the order they can happen; a callback never moves a message backwards.
STATUS_RANK = {
    "pending": 0,
    "sending": 1,
    "accepted": 2,
    "scheduled": 2,
    "queued": 3,
    "sent": 4,
    "delivered": 5,
    "undelivered": 5,
    "failed": 5,
    "read": 6,
}
FINAL_FAILURES = ("undelivered", "failed")
# WhatsApp refuses free text outside the 24-hour window; the reminder path falls back or
# suppresses, so this is not a conversation for the agents.
OUTSIDE_WINDOW = "63016"


class BadInbound(ValueError):
    """A webhook payload that is not a usable message (answered with 400)."""


class ProviderUnavailable(RuntimeError):
    """Twilio could not take the message now; the job retries."""


def parse_address(raw):
    """Split Twilio's From/To into (channel, E.164): 'whatsapp:+57...' or '+57...' (SMS)."""
    raw = (raw or "").strip()
    if not raw:
        raise BadInbound("From is missing")
    channel, number = "sms", raw
    if ":" in raw:
        prefix, number = raw.split(":", 1)
        if prefix != "whatsapp":
            raise BadInbound(f"unknown channel {prefix!r}")
        channel = "whatsapp"
    if not number.startswith("+"):
        raise BadInbound("From is not an E.164 number")
    try:
        return channel, phones.normalise(number)
    except phones.PhoneError as exc:
        raise BadInbound("From is not a valid phone number") from exc


def channel_address(channel, e164):
    return CHANNELS.get(channel, "") + e164


def get_or_create_conversation(session, channel, address):
    stmt = select(Conversation).where(
        Conversation.channel == channel, Conversation.address == address
    )
    conversation = session.execute(stmt).scalar_one_or_none()
    if conversation is not None:
        return conversation
    debtor = session.execute(select(Debtor).where(Debtor.phone == address)).scalar_one_or_none()
    conversation = Conversation(channel=channel, address=address, debtor=debtor)
    session.add(conversation)
    try:
        session.flush()
    except IntegrityError:  # another request created it first
        session.rollback()
        conversation = session.execute(stmt).scalar_one()
    return conversation


def store_inbound(session, form, max_body):
    """Store a Twilio inbound message; return (message, created). Raises BadInbound."""
    sid = (form.get("MessageSid") or form.get("SmsMessageSid") or "").strip()
    if not sid or len(sid) > 64:
        raise BadInbound("MessageSid is missing")
    body = form.get("Body") or ""
    if len(body) > max_body:
        raise BadInbound(f"Body is longer than {max_body} characters")
    channel, address = parse_address(form.get("From"))
    existing = session.execute(
        select(Message).where(Message.provider_sid == sid)
    ).scalar_one_or_none()
    if existing is not None:
        return existing, False
    conversation = get_or_create_conversation(session, channel, address)
    if conversation.debtor_id is None:  # the debt may have been imported since the first message
        conversation.debtor = session.execute(
            select(Debtor).where(Debtor.phone == address)
        ).scalar_one_or_none()
    now = utcnow()
    conversation.last_inbound_at = now
    if conversation.state == "closed":
        conversation.state = "bot"
    message = Message(
        conversation_id=conversation.id,
        direction="in",
        provider_sid=sid,
        body=body,
        button_payload=(form.get("ButtonPayload") or "").strip()[:256] or None,
        status="received",
        created_at=now,
    )
    session.add(message)
    try:
        session.commit()
    except IntegrityError:  # the same MessageSid raced in on another request
        session.rollback()
        existing = session.execute(select(Message).where(Message.provider_sid == sid)).scalar_one()
        return existing, False
    return message, True


def conversation_locale(conversation):
    """The locale to answer in: the language the debtor writes in, else the one on file."""
    if conversation.locale:
        return conversation.locale
    if conversation.debtor is not None:
        return conversation.debtor.locale
    return current_app.config["DEFAULT_LOCALE"]


def follow_language(session, conversation, text):
    """Answer in the other language from now on when the debtor writes in it."""
    detected = language.detect(text)
    current = conversation_locale(conversation).split("-")[0]
    if detected is None or detected == current:
        return
    debtor = conversation.debtor
    on_file = (debtor.locale if debtor else current_app.config["DEFAULT_LOCALE"]).split("-")[0]
    country = debtor.country if debtor else None
    conversation.locale = None if detected == on_file else language.locale_for(detected, country)
    audit.record(
        session, "debtor", "conversation.language_changed", conversation, {"language": detected}
    )


def record_replies(session, inbound, template_messages):
    """Render the bot's answers and store them as pending outbound rows, in order."""
    conversation = inbound.conversation
    locale = conversation_locale(conversation)
    rows = []
    for seq, item in enumerate(template_messages):
        row = Message(
            conversation_id=conversation.id,
            direction="out",
            reply_to_id=inbound.id,
            seq=seq,
            template_key=item.get("template"),
            variables=item.get("vars") or {},
            status="pending",
        )
        try:
            if item.get("template"):
                row.body, _used = templates.render(session, item["template"], locale, row.variables)
            else:
                row.body = item["raw"]
            row.buttons = render_choices(session, item.get("buttons"), locale) or None
            row.body = append_choices(row.body, row.buttons)
            if row.buttons and conversation.channel == "whatsapp":
                _quick_replies(session, row, locale)
        except Exception as exc:  # a bad template or variable fails this reply, not the turn
            log.error("cannot render %s for message %s: %r", item.get("template"), inbound.id, exc)
            row.status, row.error_message = "failed", str(exc)[:256]
            mark_for_agent(session, conversation, "render_error")
        session.add(row)
        rows.append(row)
    return rows


def _quick_replies(session, row, locale):
    """On WhatsApp, choices go as real quick-reply buttons when the key is linked to an
    approved quick-reply template (its buttons carry our payloads, which come back as
    ButtonPayload); otherwise the numbered text, which works everywhere."""
    spec = session.get(TemplateKey, row.template_key) if row.template_key else None
    if spec is not None and spec.content_sid:
        row.content_sid = spec.content_sid
        row.content_variables = templates.content_variables(spec, row.variables, locale)


def render_choices(session, buttons, locale):
    """Button titles rendered in the debtor's locale: [{"title", "payload"}]."""
    choices = []
    for button in buttons or []:
        title = button.get("title")
        if button.get("title_template"):
            title, _ = templates.render(
                session, button["title_template"], locale, button.get("title_vars")
            )
        choices.append({"title": title, "payload": button["payload"]})
    return choices


def append_choices(body, choices):
    """Choices as numbered lines: the same on SMS and WhatsApp; a reply "2" picks the second."""
    if not choices:
        return body
    lines = [body, ""] + [f"{n}. {c['title']}" for n, c in enumerate(choices, start=1)]
    return "\n".join(lines)


_CHOICE = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")


def chosen_payload(session, inbound):
    """The payload of the numbered choice the debtor typed ("2"), if the bot's last message
    offered choices; None otherwise."""
    match = _CHOICE.match(inbound.body or "")
    if not match:
        return None
    last = session.execute(
        select(Message)
        .where(Message.conversation_id == inbound.conversation_id, Message.direction == "out")
        .where(Message.created_at <= inbound.created_at)  # what was on the debtor's screen
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    number = int(match.group(1))
    if last is None or not last.buttons or not 1 <= number <= len(last.buttons):
        return None
    return last.buttons[number - 1]["payload"]


class OutsideWindow(RuntimeError):
    """WhatsApp's 24-hour window is closed and the text has no approved template."""


# WhatsApp's customer-service window: free text only within 24 hours of the debtor's message.
WHATSAPP_WINDOW = timedelta(hours=24)


def window_open(conversation, now=None):
    """True inside WhatsApp's 24-hour window, and always on SMS (it has none)."""
    if conversation.channel != "whatsapp":
        return True
    if conversation.last_inbound_at is None:
        return False
    return (now or utcnow()) - conversation.last_inbound_at < WHATSAPP_WINDOW


def approved_template(session, conversation, key, variables, locale, now=None):
    """(content_sid, content_variables) for a message the bot or an agent starts: (None, None)
    inside the window; the key's approved template outside it; OutsideWindow without one."""
    if window_open(conversation, now):
        return None, None
    spec = session.get(TemplateKey, key) if key else None
    if spec is None or not spec.content_sid:
        raise OutsideWindow(f"{key or 'free text'} has no approved WhatsApp template")
    return spec.content_sid, templates.content_variables(spec, variables or {}, locale)


def queue_outbound(session, conversation, key=None, variables=None, body=None, author_id=None):
    """Store a message the bot or an agent starts (not a reply) as a pending row: the key's
    text in the conversation's language (or the body given), sent as the key's approved
    template outside WhatsApp's window; OutsideWindow when it cannot go. The caller commits,
    then enqueues delivery (queues.enqueue_outbound)."""
    locale = conversation_locale(conversation)
    sid, slots = approved_template(session, conversation, key, variables, locale)
    if body is None:
        body, _used = templates.render(session, key, locale, variables)
    row = Message(
        conversation_id=conversation.id,
        direction="out",
        body=body,
        template_key=key,
        variables=variables,
        status="pending",
        author_id=author_id,
        content_sid=sid,
        content_variables=slots,
    )
    session.add(row)
    session.flush()
    return row


def mark_for_agent(session, conversation, reason):
    if not conversation.needs_agent:
        conversation.needs_agent = True
        conversation.agent_reason = reason
        conversation.escalated_at = utcnow()
        audit.record(
            session, "system", "conversation.needs_agent", conversation, {"reason": reason}
        )


def _status_callback_url():
    return current_app.config["PUBLIC_BASE_URL"] + "/webhooks/twilio/status"


def _sender(channel):
    cfg = current_app.config
    return cfg["TWILIO_WHATSAPP_FROM"] if channel == "whatsapp" else cfg["TWILIO_SMS_FROM"]


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
    """Send one pending outbound row with the twilio client; never twice.

    The row is marked 'sending' (committed) before the request. If the outcome of that request
    is unknown (timeout, worker killed), a later attempt first asks Twilio whether the message
    exists before sending again.
    """
    if row.status not in ("pending", "sending"):
        return
    conversation = row.conversation
    to = channel_address(conversation.channel, conversation.address)
    sender = _sender(conversation.channel)
    if row.status == "sending":
        try:
            found = _reconcile(session, client, row, to, sender)
        except (TwilioRestException, requests.RequestException) as exc:
            raise ProviderUnavailable(f"cannot check an interrupted send: {exc}") from exc
        if found is not None:
            row.provider_sid, row.status = found.sid, found.status or "queued"
            session.commit()
            apply_early_status(session, row)
            return
    row.status = "sending"
    row.attempts += 1
    session.commit()
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


def create_params(row):
    """The messages.create arguments for an outbound row: its text, or its approved template."""
    conversation = row.conversation
    params = {
        "to": channel_address(conversation.channel, conversation.address),
        "from_": _sender(conversation.channel),
        "status_callback": _status_callback_url(),
    }
    if row.content_sid:
        params["content_sid"] = row.content_sid
        params["content_variables"] = json.dumps(row.content_variables or {})
    else:
        params["body"] = row.body
    return params


def record_outcome(session, row, sent, error):
    """Apply a create's result to a row marked 'sending' (the caller commits); return the
    ProviderUnavailable to raise when the send must be retried, else None."""
    if error is None:
        row.provider_sid, row.status = sent.sid, sent.status or "queued"
        return None
    if isinstance(error, TwilioRestException):
        if error.status == 429 or error.status >= 500:
            # 429 means not taken; a 5xx may come after Twilio took it, so check before resending.
            row.status = "pending" if error.status == 429 else "sending"
            return ProviderUnavailable(f"Twilio answered HTTP {error.status}")
        row.status, row.error_code = "failed", str(error.code or error.status)
        row.error_message = (error.msg or "")[:256]
        if row.error_code != OUTSIDE_WINDOW:
            mark_for_agent(session, row.conversation, "delivery_failure")
        return None
    if _definitely_not_sent(error):
        row.status = "pending"
    return ProviderUnavailable(f"Twilio not reachable: {type(error).__name__}")


def _early_key(sid):
    return f"status:early:{sid}"


def hold_early_status(sid, status, error_code=None):
    """Keep a callback that beat the API response (the SID is not recorded yet) for an hour."""
    from bot.tasks.queues import redis_conn

    key = _early_key(sid)
    redis = redis_conn()
    redis.rpush(key, f"{status}|{error_code or ''}")
    redis.expire(key, 3600)


def apply_early_status(session, row):
    """Apply callbacks held for row's SID. Both the sender and a late callback drain the list
    (LPOP is atomic), so a callback racing the SID's commit is applied by one side or the other.
    """
    from bot.tasks.queues import redis_conn

    redis = redis_conn()
    while (item := redis.lpop(_early_key(row.provider_sid))) is not None:
        status, _, error_code = item.decode().partition("|")
        _apply(session, row, status, error_code or None)


def apply_status(session, sid, status, error_code=None):
    """Apply a delivery-status callback; return False when the SID is not (yet) known."""
    stmt = select(Message).where(Message.provider_sid == sid)
    row = session.execute(stmt).scalar_one_or_none()
    if row is None:
        hold_early_status(sid, status, error_code)
        session.rollback()
        row = session.execute(stmt).scalar_one_or_none()
        if row is not None:  # the sender recorded the SID meanwhile: drain for it
            apply_early_status(session, row)
        return False
    if row.direction == "out":
        _apply(session, row, status, error_code)
    return True


def _apply(session, row, status, error_code):
    """Move row to status only from a lower rank, in one conditional UPDATE: two callbacks
    racing on two threads cannot move it backwards."""
    status = (status or "").lower()
    rank = STATUS_RANK.get(status)
    if rank is None:
        session.commit()
        return
    lower = [name for name, other in STATUS_RANK.items() if other < rank]
    values = {"status": status, "updated_at": utcnow()}
    if error_code:
        values["error_code"] = str(error_code)[:16]
    result = session.execute(
        update(Message)
        .where(Message.id == row.id, Message.status.in_(lower))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    session.expire(row)
    if result.rowcount and status in FINAL_FAILURES:
        from bot.reminders import reminders

        # A reminder refused for the 24-hour window falls back to SMS or is suppressed.
        if str(error_code or "") == OUTSIDE_WINDOW and reminders.outside_window(session, row):
            return
        mark_for_agent(session, row.conversation, "delivery_failure")
        session.commit()
