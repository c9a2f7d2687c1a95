"""A debtor's e-mail, posted by the provider's inbound parsing, stored once (by Message-ID) in
the debtor's e-mail conversation and answered like any message.

Only the new words are kept: quoted text, the reply header ("On ... wrote:") and signatures are
stripped with mail-parser-reply, then by strip_quoted below for what it leaves (lines quoted
with ">", and Spanish and English reply headers it does not know)."""

import hashlib
import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.utils import parseaddr

from mailparser_reply import EmailReplyParser
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot import channels, inputs, outbox, statuses
from bot.clock import utcnow
from bot.conversations.inbound import BadInbound
from bot.models import Conversation, Debtor, EmailEvent, Message

_LANGUAGES = ["es", "en", "pt", "fr", "de"]
# Reply headers mail clients write above the quoted message.
_HEADER = re.compile(
    r"^\s*(>?\s*)?("
    r"(On|El|Em|Le)\b.{0,200}(wrote|escribió|escreveu|a écrit)\s*:"
    r"|-{2,}\s*(Original Message|Mensaje original|Forwarded message|Mensaje reenviado)\s*-{2,}"
    r"|(From|De):\s.*"
    r")\s*$",
    re.IGNORECASE,
)
_SENT_FROM = re.compile(r"^\s*(Sent from my|Enviado desde mi|Obtener Outlook)\b", re.IGNORECASE)


@dataclass
class InboundEmail:
    message_id: str
    sender: str
    subject: str
    text: str
    in_reply_to: str | None = None


def strip_quoted(text):
    """The new words of a reply: everything above the first reply header, quoted line or
    "Sent from my ..." line."""
    kept = []
    for line in (text or "").replace("\r\n", "\n").split("\n"):
        if _HEADER.match(line) or line.lstrip().startswith(">") or _SENT_FROM.match(line):
            break
        kept.append(line)
    return "\n".join(kept).strip()


def new_words(text):
    try:
        parsed = EmailReplyParser(languages=_LANGUAGES).read(text=text or "")
        body = parsed.replies[0].body if parsed.replies else text
    except Exception:  # a library failure must not lose the message: keep the whole text
        body = text
    return strip_quoted(body) or strip_quoted(text) or (text or "").strip()


def _html_to_text(html):
    text = re.sub(r"(?is)<(script|style).*?</\1>", "", html or "")
    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", text)
    text = re.sub(r"<[^>]+>", "", text)
    return re.sub(r"\n{3,}", "\n\n", text)


def parse_mime(raw):
    """An InboundEmail from a raw RFC 5322 message (bytes). Raises BadInbound."""
    try:
        msg = message_from_bytes(raw, policy=policy.default)
        part = msg.get_body(preferencelist=("plain", "html"))
        content = part.get_content() if part is not None else ""
        if part is not None and part.get_content_type() == "text/html":
            content = _html_to_text(content)
    except (LookupError, ValueError, TypeError) as exc:
        raise BadInbound(f"not a readable e-mail: {type(exc).__name__}") from exc
    return InboundEmail(
        message_id=str(msg.get("Message-ID") or "").strip(),
        sender=str(msg.get("From") or ""),
        subject=str(msg.get("Subject") or ""),
        text=content,
        in_reply_to=str(msg.get("In-Reply-To") or "").strip() or None,
    )


def parse_json(data):
    """An InboundEmail from the generic JSON form (README, "E-mail"). Raises BadInbound."""
    if not isinstance(data, dict):
        raise BadInbound("the body must be a JSON object")
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        text = _html_to_text(data.get("html") or "") if isinstance(data.get("html"), str) else ""
    return InboundEmail(
        message_id=str(data.get("message_id") or "").strip(),
        sender=str(data.get("from") or ""),
        subject=str(data.get("subject") or ""),
        text=text,
        in_reply_to=(str(data.get("in_reply_to") or "").strip() or None),
    )


def _event_id(mail):
    if mail.message_id:
        return mail.message_id[:255]
    digest = hashlib.sha256(f"{mail.sender}\n{mail.subject}\n{mail.text}".encode()).hexdigest()
    return f"<sha256:{digest}>"


def store_email(session, mail, max_body):
    """Store an inbound e-mail once and ask for its answer; (message or None, created).
    An address no debtor has is kept in a conversation without a debtor, as an unknown
    number is. Raises BadInbound."""
    try:
        address = channels.normalise_email(parseaddr(mail.sender)[1])
    except channels.BadAddress as exc:
        raise BadInbound(f"from: {exc}") from exc
    event_id = _event_id(mail)
    known = session.execute(
        select(EmailEvent).where(EmailEvent.event_id == event_id)
    ).scalar_one_or_none()
    if known is not None:
        return (session.get(Message, known.message_id) if known.message_id else None), False
    body = inputs.clean_text(new_words(mail.text))[:max_body]
    debtor = session.execute(
        select(Debtor).where(func.lower(Debtor.email) == address.lower()).limit(1)
    ).scalar_one_or_none()
    conversation = session.execute(
        select(Conversation).where(
            Conversation.channel == channels.EMAIL, Conversation.address == address
        )
    ).scalar_one_or_none()
    if conversation is None:
        conversation = Conversation(channel=channels.EMAIL, address=address, debtor=debtor)
        session.add(conversation)
        session.flush()
    elif conversation.debtor_id is None and debtor is not None:
        conversation.debtor = debtor
    now = utcnow()
    conversation.last_inbound_at = now
    if conversation.state == statuses.Conversation.CLOSED:
        conversation.state = statuses.Conversation.BOT
    message = Message(
        conversation_id=conversation.id,
        direction=statuses.IN,
        provider_sid="emin:" + hashlib.sha256(event_id.encode()).hexdigest()[:40],
        body=body,
        subject=inputs.clean_text(mail.subject)[:255] or None,
        status=statuses.Inbound.RECEIVED,
        created_at=now,
    )
    session.add(message)
    session.flush()
    session.add(
        EmailEvent(
            event_id=event_id,
            kind="inbound",
            address=address,
            debtor_id=debtor.id if debtor else None,
            message_id=message.id,
            received_at=now,
        )
    )
    try:
        session.flush()
        outbox.later(session, "process_inbound", message.id)
        session.commit()
    except IntegrityError:  # the same e-mail raced in on another request
        session.rollback()
        return None, False
    return message, True
