"""What compliance needs on record: consent and opt-outs with their evidence, the creditor's
holiday calendar, and every contact decision (the per-debtor contact log)."""

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)

from bot.clock import utcnow
from bot.models.base import Base


class ConsentRecord(Base):
    """One consent or opt-out of a debtor for a channel, with the evidence: when, how, the
    words or document. Never changed: the latest record per channel is the state."""

    __tablename__ = "consent_records"
    __table_args__ = (Index("ix_consent_debtor", "debtor_id", "channel", "id"),)

    id = Column(Integer, primary_key=True)
    debtor_id = Column(ForeignKey("debtors.id"), nullable=False)
    channel = Column(String(16), nullable=False)  # whatsapp / sms / email
    action = Column(String(16), nullable=False)  # granted / revoked
    scope = Column(String(16), nullable=False, default="channel")  # channel / all
    at = Column(DateTime, nullable=False)  # when the debtor gave or withdrew it (UTC)
    method = Column(String(32), nullable=False)  # import / chat / keyword / agent / console
    evidence = Column(Text, nullable=False)  # the debtor's own words, or the document
    message_id = Column(ForeignKey("messages.id"))  # the message that carried it, if any
    recorded_by = Column(String(64), nullable=False)
    recorded_at = Column(DateTime, nullable=False, default=utcnow)


class HolidayOverride(Base):
    """A day the creditor adds to (or removes from) a country's holiday calendar."""

    __tablename__ = "holiday_overrides"
    __table_args__ = (
        UniqueConstraint("country", "subdivision", "day", name="uq_holiday_override"),
    )

    id = Column(Integer, primary_key=True)
    country = Column(String(2), nullable=False)
    subdivision = Column(String(8))  # None: the whole country
    day = Column(Date, nullable=False)
    action = Column(String(8), nullable=False)  # add / remove
    reason = Column(String(200), nullable=False)
    created_by = Column(String(64), nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)


class ContactEvent(Base):
    """One contact decision or outcome for a proactive message: the contact log a compliance
    officer exports per debtor (kept at least as long as the strictest pack asks)."""

    __tablename__ = "contact_events"
    __table_args__ = (
        Index("ix_contact_events_debtor", "debtor_id", "at"),
        Index("ix_contact_events_at", "at"),
    )

    id = Column(Integer, primary_key=True)
    at = Column(DateTime, nullable=False)  # UTC
    debtor_id = Column(ForeignKey("debtors.id"), nullable=False)
    account_id = Column(Integer)
    scheduled_id = Column(Integer)
    message_id = Column(Integer)
    purpose = Column(String(16), nullable=False)  # reminder / receipt / requested / agent
    # queued / deferred / suppressed / held_back / sent / failed
    action = Column(String(16), nullable=False)
    reason = Column(String(64))
    rule = Column(String(128))  # the provision behind the reason: law:co.hours, policy:CO
    channel = Column(String(16))
    template_key = Column(String(128))
    template_version = Column(Integer)
    locale = Column(String(16))
    zones = Column(String(256))  # every zone the decision checked
    local_times = Column(String(512))  # the moment in each zone
    pack = Column(String(32))  # CO@2026.12
    next_at = Column(DateTime)  # a deferral's new moment
