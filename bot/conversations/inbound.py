"""Storing what Twilio's inbound webhook posts: one row per MessageSid, in its conversation."""

from sqlalchemy import bindparam, case, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.util import identity_key

from bot import channels, inputs, outbox, statuses
from bot.clock import utcnow
from bot.conversations import media as inbound_files
from bot.models import Conversation, Debtor, Message

MAX_MEDIA = 10  # what Twilio sends at most with one message


class BadInbound(ValueError):
    """A webhook payload that is not a usable message (answered with 400)."""


def inbound_media(form):
    """The media Twilio posted with a message (NumMedia, MediaUrl<n>, MediaContentType<n>), and
    a shared location (Latitude and Longitude, no file): [{"url", "content_type"}], or None.
    Raises BadInbound."""
    count = (form.get("NumMedia") or "0").strip()
    if not count.isdigit() or int(count) > MAX_MEDIA:
        raise BadInbound(f"NumMedia must be a number from 0 to {MAX_MEDIA}")
    media = []
    for i in range(int(count)):
        url = (form.get(f"MediaUrl{i}") or "").strip()
        if not url.startswith(("https://", "http://")) or len(url) > 1024:
            raise BadInbound(f"MediaUrl{i} is missing or not a URL")
        content_type = (form.get(f"MediaContentType{i}") or "").strip()[:64]
        media.append({"url": url, "content_type": content_type})
    if not media and form.get("Latitude") and form.get("Longitude"):
        media.append({"url": None, "content_type": inbound_files.LOCATION})
    return media or None


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
    """Store a Twilio inbound message and ask for its processing once committed; return
    (message, created). Raises BadInbound. For callers holding ORM objects (the demo history,
    tests): what they added is flushed first, and their conversations are read again after."""
    session.flush()
    message_id, created = record_inbound(session, form, max_body)
    message = session.get(Message, message_id)
    conversation = session.identity_map.get(identity_key(Conversation, message.conversation_id))
    if conversation is not None:
        session.expire(conversation)
    return message, created


def record_inbound(session, form, max_body):
    """What the webhook does before its 200: validate, insert the message (once per MessageSid)
    in its conversation, commit, and ask for its job; return (message id, created). Raises
    BadInbound.

    Core statements, not the ORM's unit of work: the acknowledgement is the latency-critical
    path of a burst, and the ORM's flushes were half of its CPU (bench.webhook_ack --cpu)."""
    try:
        sid = inputs.text(
            form.get("MessageSid") or form.get("SmsMessageSid"),
            "MessageSid",
            inputs.length(Message.provider_sid),
            required=True,
        )
    except inputs.BadInput as exc:
        raise BadInbound(str(exc)) from exc
    body = form.get("Body") or ""
    if len(body) > max_body:
        raise BadInbound(f"Body is longer than {max_body} characters")
    # What the debtor wrote is kept, less the control characters (PostgreSQL refuses a NUL).
    body = inputs.clean_text(body)
    # A quick-reply button's payload, or a list-picker item's id (the menu on WhatsApp).
    payload = inputs.clean_text(
        form.get("ButtonPayload") or form.get("ListId"), inputs.length(Message.button_payload)
    )
    try:
        channel, address = channels.parse(form.get("From"))
    except channels.BadAddress as exc:
        raise BadInbound(str(exc)) from exc
    media = inbound_media(form)
    existing = _message_id(session, sid)
    if existing is not None:  # Twilio retried: the first delivery is stored
        return existing, False
    now = utcnow()
    conversation_id = _touch_conversation(session, channel, address, now)
    try:
        message_id = session.execute(
            INSERT_MESSAGE,
            {
                "conversation_id": conversation_id,
                "direction": statuses.IN,
                "provider_sid": sid,
                "body": body,
                "button_payload": payload or None,
                "status": statuses.Inbound.RECEIVED,
                "created_at": now,
                "media": media,
            },
        ).inserted_primary_key[0]
        outbox.later(session, "process_inbound", message_id)
        if inbound_files.media_kind(media) == inbound_files.RECEIPT:
            # A payment proof: fetched, kept and answered by its own job (a voice note or a
            # sticker is answered in the turn, bot.conversations.media).
            outbox.later(session, "receive_media", message_id)
        session.commit()
    except IntegrityError:  # the same MessageSid raced in on another request
        session.rollback()
        return _message_id(session, sid), False
    return message_id, True


MESSAGES = Message.__table__
CONVERSATIONS = Conversation.__table__
# Built once: a statement's cache key is computed once per object, so the acknowledgement
# pays neither the construction nor the key (a third of its SQL CPU when built per request).
INSERT_MESSAGE = insert(MESSAGES)
INSERT_CONVERSATION = insert(CONVERSATIONS)
MESSAGE_BY_SID = select(MESSAGES.c.id).where(MESSAGES.c.provider_sid == bindparam("sid"))
DEBTOR_BY_PHONE = select(Debtor.__table__.c.id).where(Debtor.__table__.c.phone == bindparam("a"))
CONVERSATION_BY_ADDRESS = select(
    CONVERSATIONS.c.id, CONVERSATIONS.c.debtor_id, CONVERSATIONS.c.state
).where((CONVERSATIONS.c.channel == bindparam("c")) & (CONVERSATIONS.c.address == bindparam("a")))
# In one statement, so nothing a worker changed since the read is overwritten: the 24-hour
# window opens, a closed conversation returns to the bot, a debtor imported since the first
# message is linked.
TOUCH_CONVERSATION = (
    update(CONVERSATIONS)
    .where(CONVERSATIONS.c.id == bindparam("cid"))
    .values(
        last_inbound_at=bindparam("now"),
        state=case(
            (CONVERSATIONS.c.state == statuses.Conversation.CLOSED, statuses.Conversation.BOT),
            else_=CONVERSATIONS.c.state,
        ),
        debtor_id=func.coalesce(CONVERSATIONS.c.debtor_id, bindparam("debtor")),
    )
)


def _message_id(session, sid):
    return session.execute(MESSAGE_BY_SID, {"sid": sid}).scalar_one_or_none()


def _debtor_id(session, address):
    return session.execute(DEBTOR_BY_PHONE, {"a": address}).scalar_one_or_none()


def _touch_conversation(session, channel, address, now):
    """The conversation's id, created or updated for an inbound message at now."""
    key = {"c": channel, "a": address}
    row = session.execute(CONVERSATION_BY_ADDRESS, key).first()
    if row is None:
        try:
            return session.execute(
                INSERT_CONVERSATION,
                {
                    "channel": channel,
                    "address": address,
                    "debtor_id": _debtor_id(session, address),
                    "last_inbound_at": now,
                },
            ).inserted_primary_key[0]
        except IntegrityError:  # another request created it first
            session.rollback()
            row = session.execute(CONVERSATION_BY_ADDRESS, key).one()
    debtor_id = _debtor_id(session, address) if row.debtor_id is None else None
    session.execute(TOUCH_CONVERSATION, {"cid": row.id, "now": now, "debtor": debtor_id})
    return row.id
