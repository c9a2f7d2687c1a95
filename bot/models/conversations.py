"""Conversations, their messages and agents' notes."""

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import relationship

from bot.clock import utcnow
from bot.models.base import Base, TimestampMixin


# Partial indexes for the periodic queries: each reads only the few rows it is about among
# millions (PostgreSQL and SQLite use one when the query's WHERE implies the index's, so the
# predicates are spelled as the queries spell them).
AGENTS_QUEUE = "needs_agent IS true OR state = 'agent'"
MESSAGES_UNSENT = "status IN ('received', 'pending', 'sending')"
MESSAGES_FAILED = "status = 'failed'"


def partial(where):
    return {"postgresql_where": text(where), "sqlite_where": text(where)}


class Conversation(TimestampMixin, Base):
    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("channel", "address", name="uq_conversation_address"),
        # The agents' queue, polled by every open console.
        Index("ix_conversations_agents", "id", **partial(AGENTS_QUEUE)),
    )

    id = Column(Integer, primary_key=True)
    channel = Column(String(16), nullable=False)  # whatsapp / sms / email
    # The debtor's E.164 number, or their e-mail address (normalised) on the email channel.
    address = Column(String(254), nullable=False)
    debtor_id = Column(ForeignKey("debtors.id"), index=True)
    state = Column(String(16), nullable=False, default="bot")  # bot / agent / closed
    last_inbound_at = Column(DateTime)  # opens WhatsApp's 24-hour window
    # The language the debtor writes in, when it is not the one on file (e.g. "en" for es-CO).
    locale = Column(String(16))
    verified_at = Column(DateTime)  # the last successful verification on this number
    verification_failures = Column(Integer, nullable=False, default=0)
    locked_until = Column(DateTime)
    locked_at = Column(DateTime)  # the last lock after failed verifications
    # When the debtor was asked whether we may write to them on this channel (countries that
    # need consent); asked once.
    consent_asked_at = Column(DateTime)
    needs_agent = Column(Boolean, nullable=False, default=False)
    agent_reason = Column(String(64))
    escalated_at = Column(DateTime)  # when it joined the agents' queue (waiting time)
    agent_id = Column(ForeignKey("users.id"))  # the agent holding it (state "agent")
    claimed_at = Column(DateTime)
    # Rasa's tracker is paused while an agent holds the conversation; resumed before the bot
    # answers again (the worker does it if the hand-back could not reach Rasa).
    bot_paused = Column(Boolean, nullable=False, default=False)

    debtor = relationship("Debtor")
    agent = relationship("User")


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("reply_to_id", "seq", name="uq_message_reply_seq"),
        Index(
            "ix_messages_conversation_direction_status", "conversation_id", "direction", "status"
        ),
        # The results dashboard's daily job reads a day of messages at a time.
        Index("ix_messages_created_at", "created_at"),
        # The sweep: inbound not yet answered, outbound not yet handed to Twilio.
        Index("ix_messages_unsent", "id", **partial(MESSAGES_UNSENT)),
        # The sweep's retries of what an outage made fail.
        Index("ix_messages_failed", "created_at", **partial(MESSAGES_FAILED)),
    )

    id = Column(Integer, primary_key=True)
    conversation_id = Column(ForeignKey("conversations.id"), nullable=False)
    direction = Column(String(8), nullable=False)  # in / out
    provider_sid = Column(String(64), unique=True)
    body = Column(Text)
    button_payload = Column(String(256))
    template_key = Column(String(128))
    variables = Column(JSON)
    buttons = Column(JSON)  # outbound choices [{"title", "payload"}]; a reply "2" picks the second
    # in: received -> processed | for_agent | failed; out: pending -> sending -> queued/sent/...
    status = Column(String(16), nullable=False)
    error_code = Column(String(16))
    error_message = Column(String(256))
    reply_to_id = Column(ForeignKey("messages.id"))  # the inbound message this answers
    seq = Column(Integer)  # order of the reply among those to one inbound message
    attempts = Column(Integer, nullable=False, default=0)
    # When the worker first tried it: an outage gives up on it only OUTAGE_GIVE_UP_MINUTES later.
    first_attempt_at = Column(DateTime)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    processed_at = Column(DateTime)
    author_id = Column(ForeignKey("users.id"))  # the agent who wrote an outbound message
    # Sent as an approved WhatsApp template (outside the 24-hour window) instead of the body.
    content_sid = Column(String(34))
    content_variables = Column(JSON)  # {"1": "Camila", ...}, already formatted
    # Media: in, what Twilio posted (MediaUrl<n>, MediaContentType<n>); out, files to attach.
    media = Column(JSON)  # [{"url": ..., "content_type": ...}]
    # E-mail: the subject and the HTML part, as sent (out) or received (in); body is the text.
    subject = Column(String(255))
    html = Column(Text)

    conversation = relationship("Conversation")
    author = relationship("User")


class ConversationNote(Base):
    """An agent's internal note on a conversation: never sent to the debtor."""

    __tablename__ = "conversation_notes"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(ForeignKey("conversations.id"), nullable=False, index=True)
    author_id = Column(ForeignKey("users.id"), nullable=False)
    body = Column(Text, nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)

    author = relationship("User")


class SandboxMessage(Base):
    """Outbound messages captured by the built-in Twilio-compatible sandbox (no credentials)."""

    __tablename__ = "sandbox_messages"

    id = Column(Integer, primary_key=True)
    sid = Column(String(34), nullable=False, unique=True)
    to = Column(String(254), nullable=False, index=True)  # a number or an e-mail address
    from_ = Column("from", String(40), nullable=False)
    body = Column(Text)
    status_callback = Column(String(512))
    created_at = Column(DateTime, nullable=False, default=utcnow)
