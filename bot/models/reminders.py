"""Contact rules, segments and the proactive messages planned from them."""

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import relationship

from bot.models.base import Base, TimestampMixin


class ContactRule(TimestampMixin, Base):
    """The creditor's contact policy for a country ("*" for the rest): it can only make the
    country pack (the law, bot.contact.packs) stricter."""

    __tablename__ = "contact_rules"

    country = Column(String(2), primary_key=True)
    # {"mon": ["07:00", "19:00"], ...}: allowed local hours per weekday; a missing day is closed;
    # {} leaves the law's hours.
    hours = Column(JSON, nullable=False)
    skip_holidays = Column(Boolean, nullable=False, default=False)
    max_per_day = Column(Integer, nullable=False, default=1)  # proactive contacts, all channels
    max_per_week = Column(Integer, nullable=False, default=3)  # rolling 7 days
    min_gap_hours = Column(Integer, nullable=False, default=0)  # between two contacts
    sms_fallback = Column(Boolean, nullable=False, default=True)
    default_timezone = Column(String(64))  # unused since the packs' country zones (0010)
    # Which of the pack's regimes applies to this creditor (MX: condusef_financial or
    # profeco_commercial); None: the pack's default, the stricter one.
    regime = Column(String(32))
    require_consent = Column(Boolean, nullable=False, default=False)


class Segment(TimestampMixin, Base):
    """A group of accounts chosen from their data; it picks the cadence, tone and offer."""

    __tablename__ = "segments"

    name = Column(String(64), primary_key=True)
    priority = Column(Integer, nullable=False, default=100)  # lowest first; first match wins
    # {"min_days_overdue": 1, "max_days_overdue": 30, "min_balance_minor": 0, "currency": "COP",
    #  "min_broken_promises": 1, "max_broken_promises": 0, "min_kept_promises": 1,
    #  "min_payments": 1}; every given key must hold.
    criteria = Column(JSON, nullable=False, default=dict)
    # [{"kind": "due", "offset": -3}, {"kind": "installment", "offset": 0},
    #  {"kind": "promise", "offset": 0}, ...]: days relative to the date the kind refers to.
    cadence = Column(JSON, nullable=False, default=list)
    tone = Column(String(32), nullable=False, default="friendly")  # template variant
    offer = Column(String(32))  # None, "plan" or "discount": a line added to the reminder
    active = Column(Boolean, nullable=False, default=True)


class ScheduledMessage(TimestampMixin, Base):
    """A proactive message: planned, gated, then sent, deferred or suppressed, with the reason.

    The database is the schedule: a restart loses nothing, and (account, step, ref_date) is
    unique so planning twice adds nothing."""

    __tablename__ = "scheduled_messages"
    __table_args__ = (
        UniqueConstraint("account_id", "step", "ref_date", name="uq_scheduled_step"),
        Index("ix_scheduled_due", "status", "due_at"),
        Index("ix_scheduled_contacts", "debtor_id", "contacted_at"),
    )

    id = Column(Integer, primary_key=True)
    debtor_id = Column(ForeignKey("debtors.id"), nullable=False)
    account_id = Column(ForeignKey("accounts.id"), nullable=False)
    # due:-3, due:0, installment:<id>:0, promise:<id>:0, thank_you:<payment id>, campaign:<name>
    step = Column(String(64), nullable=False)
    ref_date = Column(Date, nullable=False)  # the due, installment or promise date
    segment = Column(String(64))
    template_key = Column(String(128), nullable=False)
    variables = Column(JSON)
    due_at = Column(DateTime, nullable=False)  # UTC; moved forward when deferred
    expires_at = Column(DateTime, nullable=False)  # not worth sending after this
    # The cadence's next step for the same debt, installment or promise: it takes this one's
    # place when this one finds no legal slot before it expires. None for the last step.
    next_step = Column(String(64))
    # planned / deferred -> queued -> sent | failed; or suppressed (never sent)
    status = Column(String(16), nullable=False, default="planned")
    reason = Column(String(64))
    channel = Column(String(16))
    contacted_at = Column(DateTime)  # when the gate let it go: counts toward the caps
    message_id = Column(ForeignKey("messages.id"))
    attempts = Column(Integer, nullable=False, default=0)

    message = relationship("Message")
