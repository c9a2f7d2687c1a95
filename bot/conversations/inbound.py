"""Storing what Twilio's inbound webhook posts: one row per MessageSid, in its conversation."""

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

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
    (message, created). Raises BadInbound."""
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
    if conversation.state == statuses.Conversation.CLOSED:
        conversation.state = statuses.Conversation.BOT
    message = Message(
        conversation_id=conversation.id,
        direction=statuses.IN,
        provider_sid=sid,
        body=body,
        button_payload=payload or None,
        status=statuses.Inbound.RECEIVED,
        created_at=now,
        media=media,
    )
    session.add(message)
    try:
        session.flush()
        outbox.later(session, "process_inbound", message.id)
        if inbound_files.kind(message) == inbound_files.RECEIPT:
            # A payment proof: fetched, kept and answered by its own job (a voice note or a
            # sticker is answered in the turn, bot.conversations.media).
            outbox.later(session, "receive_media", message.id)
        session.commit()
    except IntegrityError:  # the same MessageSid raced in on another request
        session.rollback()
        existing = session.execute(select(Message).where(Message.provider_sid == sid)).scalar_one()
        return existing, False
    return message, True
