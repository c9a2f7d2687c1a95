"""What the conversation issue keeps: each portfolio's voice (register, creditor name), contact
changes a debtor asks for (a new number, a call-back) waiting for an agent, and messages the
bot understood poorly, for admins to label and train on."""

from sqlalchemy import Column, DateTime, Float, ForeignKey, Integer, String, Text

from bot.clock import utcnow
from bot.models.base import Base, TimestampMixin


class Portfolio(TimestampMixin, Base):
    """A portfolio's voice: how the bot addresses its debtors and whose debt it names. The
    portfolio is an account's segment (as for payment policies), else "default"."""

    __tablename__ = "portfolios"

    name = Column(String(64), primary_key=True)
    register = Column(String(8))  # tu / usted / vos; None: the base texts (tú)
    creditor_name = Column(String(120))  # None: CREDITOR_NAME


class ContactRequest(Base):
    """A new number or a call-back the debtor asked for in the chat, until an agent confirms
    or dismisses it."""

    __tablename__ = "contact_requests"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(ForeignKey("conversations.id"), nullable=False, index=True)
    debtor_id = Column(ForeignKey("debtors.id"), index=True)
    kind = Column(String(16), nullable=False)  # new_number / callback
    phone = Column(String(20))  # E.164; a call-back without one is to the conversation's number
    words = Column(Text)  # the debtor's own words (when to call, whose number)
    status = Column(String(16), nullable=False, default="pending")  # statuses.ContactRequest
    created_at = Column(DateTime, nullable=False, default=utcnow)
    decided_at = Column(DateTime)
    decided_by = Column(String(64))


class NluReview(Base):
    """A message the bot fell back on or classified with low confidence: only its text (ID
    answers are never kept: they are redacted before this is written), for an admin to label."""

    __tablename__ = "nlu_reviews"

    id = Column(Integer, primary_key=True)
    message_id = Column(Integer, unique=True)  # the inbound message (no foreign key: texts outlive it)
    text = Column(Text, nullable=False)
    language = Column(String(8))
    predicted = Column(String(64))
    confidence = Column(Float)
    fell_back = Column(Integer, nullable=False, default=0)  # 1: the bot answered "I didn't get it"
    label = Column(String(64))  # the intent an admin chose; "ignore" drops it from the export
    labelled_by = Column(String(64))
    labelled_at = Column(DateTime)
    created_at = Column(DateTime, nullable=False, default=utcnow, index=True)
