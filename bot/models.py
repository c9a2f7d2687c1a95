"""SQLAlchemy models. Money is integer minor units beside its currency, never a float."""

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import declarative_base, relationship

from bot.clock import utcnow

Base = declarative_base()


class TimestampMixin:
    created_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)


class Debtor(TimestampMixin, Base):
    __tablename__ = "debtors"

    id = Column(Integer, primary_key=True)
    full_name = Column(String(200), nullable=False)
    phone = Column(String(20), nullable=False, unique=True)  # E.164
    email = Column(String(254))
    locale = Column(String(16), nullable=False, default="es")
    country = Column(String(2), nullable=False)
    timezone = Column(String(64))  # None when the number spans several zones
    # HMAC of the last four ID characters with a per-debtor salt; the key is SECRET_KEY.
    id_secret_hash = Column(String(128), nullable=False)
    id_secret_salt = Column(String(32), nullable=False)
    segment = Column(String(64))
    opted_out_whatsapp_at = Column(DateTime)
    opted_out_sms_at = Column(DateTime)
    wrong_number_at = Column(DateTime)

    accounts = relationship("Account", back_populates="debtor", order_by="Account.id")


class Account(TimestampMixin, Base):
    """One debt owed to the creditor, identified by the creditor's reference."""

    __tablename__ = "accounts"

    id = Column(Integer, primary_key=True)
    debtor_id = Column(ForeignKey("debtors.id"), nullable=False, index=True)
    external_id = Column(String(64), nullable=False, unique=True)
    currency = Column(String(3), nullable=False)
    amount_due_minor = Column(BigInteger, nullable=False)
    balance_minor = Column(BigInteger, nullable=False)
    due_date = Column(Date, nullable=False)
    status = Column(String(16), nullable=False, default="open")  # statuses.Account
    segment = Column(String(64))

    debtor = relationship("Debtor", back_populates="accounts")
    plans = relationship("PaymentPlan", back_populates="account")


class Conversation(TimestampMixin, Base):
    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "address", name="uq_conversation_address"),)

    id = Column(Integer, primary_key=True)
    channel = Column(String(16), nullable=False)  # whatsapp / sms
    address = Column(String(20), nullable=False)  # the debtor's E.164 number
    debtor_id = Column(ForeignKey("debtors.id"), index=True)
    state = Column(String(16), nullable=False, default="bot")  # bot / agent / closed
    last_inbound_at = Column(DateTime)  # opens WhatsApp's 24-hour window
    # The language the debtor writes in, when it is not the one on file (e.g. "en" for es-CO).
    locale = Column(String(16))
    verified_at = Column(DateTime)
    verification_failures = Column(Integer, nullable=False, default=0)
    locked_until = Column(DateTime)
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
    created_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    processed_at = Column(DateTime)
    author_id = Column(ForeignKey("users.id"))  # the agent who wrote an outbound message
    # Sent as an approved WhatsApp template (outside the 24-hour window) instead of the body.
    content_sid = Column(String(34))
    content_variables = Column(JSON)  # {"1": "Camila", ...}, already formatted

    conversation = relationship("Conversation")
    author = relationship("User")


class PaymentPlan(TimestampMixin, Base):
    __tablename__ = "payment_plans"

    id = Column(Integer, primary_key=True)
    account_id = Column(ForeignKey("accounts.id"), nullable=False, index=True)
    status = Column(String(16), nullable=False, default="active")  # statuses.Plan
    total_minor = Column(BigInteger, nullable=False)
    fee_minor = Column(BigInteger, nullable=False, default=0)
    created_by = Column(String(64), nullable=False)

    account = relationship("Account", back_populates="plans")
    installments = relationship(
        "Installment", back_populates="plan", order_by="Installment.seq", cascade="all"
    )


class Installment(Base):
    __tablename__ = "installments"
    __table_args__ = (UniqueConstraint("plan_id", "seq", name="uq_installment_seq"),)

    id = Column(Integer, primary_key=True)
    plan_id = Column(ForeignKey("payment_plans.id"), nullable=False)
    seq = Column(Integer, nullable=False)
    due_date = Column(Date, nullable=False)
    amount_minor = Column(BigInteger, nullable=False)
    paid_minor = Column(BigInteger, nullable=False, default=0)
    status = Column(String(16), nullable=False, default="due")  # statuses.Installment

    plan = relationship("PaymentPlan", back_populates="installments")


class Promise(TimestampMixin, Base):
    __tablename__ = "promises"

    id = Column(Integer, primary_key=True)
    account_id = Column(ForeignKey("accounts.id"), nullable=False, index=True)
    amount_minor = Column(BigInteger, nullable=False)
    promised_date = Column(Date, nullable=False)
    status = Column(String(16), nullable=False, default="pending")  # pending/kept/broken
    created_by = Column(String(64), nullable=False)


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("provider", "provider_ref", name="uq_payment_provider_ref"),)

    id = Column(Integer, primary_key=True)
    account_id = Column(ForeignKey("accounts.id"), nullable=False, index=True)
    amount_minor = Column(BigInteger, nullable=False)
    currency = Column(String(3), nullable=False)
    provider = Column(String(32), nullable=False)
    provider_ref = Column(String(128), nullable=False)
    status = Column(String(16), nullable=False, default="succeeded")
    received_at = Column(DateTime, nullable=False, default=utcnow)
    checkout_id = Column(ForeignKey("checkouts.id"))
    # Paid beyond what was owed: kept for an agent to refund or credit, never lost.
    surplus_minor = Column(BigInteger, nullable=False, default=0)
    # Written off by a pay-in-full discount settled with this payment.
    discount_minor = Column(BigInteger, nullable=False, default=0)


class PaymentPolicy(TimestampMixin, Base):
    """What the creditor allows in a portfolio: plans, promises, deferrals, discounts."""

    __tablename__ = "payment_policies"

    id = Column(Integer, primary_key=True)
    portfolio = Column(String(64), nullable=False, unique=True)  # "default" unless segmented
    max_installments = Column(Integer, nullable=False, default=12)
    min_first_payment_pct = Column(Integer, nullable=False, default=10)
    # In minor units of the accounts' currency; 0 means no minimum.
    min_installment_minor = Column(BigInteger, nullable=False, default=0)
    # Added once to a plan's total, in basis points of the balance (150 = 1.5 %).
    plan_fee_bps = Column(Integer, nullable=False, default=0)
    max_promise_days = Column(Integer, nullable=False, default=15)
    max_deferral_days = Column(Integer, nullable=False, default=30)
    discount_max_pct = Column(Integer, nullable=False, default=0)
    discount_valid_days = Column(Integer, nullable=False, default=0)
    # The first installment is at least this much too (minor units; 0 means only the %).
    min_first_payment_minor = Column(BigInteger, nullable=False, default=0)
    # Late fee on an installment overdue by more than the grace days: a fixed amount (minor
    # units) plus basis points of the overdue amount; both 0 means no late fee.
    late_fee_minor = Column(BigInteger, nullable=False, default=0)
    late_fee_bps = Column(Integer, nullable=False, default=0)
    late_fee_grace_days = Column(Integer, nullable=False, default=0)


class Dispute(TimestampMixin, Base):
    """A debtor says a debt is not theirs or not right; collection on it pauses meanwhile."""

    __tablename__ = "disputes"

    id = Column(Integer, primary_key=True)
    account_id = Column(ForeignKey("accounts.id"), nullable=False, index=True)
    conversation_id = Column(ForeignKey("conversations.id"))
    words = Column(Text, nullable=False)  # what the debtor wrote, for the agent
    status = Column(String(16), nullable=False, default="open")  # open/upheld/rejected
    resolved_by = Column(String(64))

    account = relationship("Account")


class PaymentClaim(TimestampMixin, Base):
    """A debtor says they already paid; reminders on the account pause until an agent checks."""

    __tablename__ = "payment_claims"

    id = Column(Integer, primary_key=True)
    account_id = Column(ForeignKey("accounts.id"), nullable=False, index=True)
    conversation_id = Column(ForeignKey("conversations.id"))
    claimed_date = Column(Date)  # None when the debtor does not know
    claimed_amount_minor = Column(BigInteger)
    currency = Column(String(3), nullable=False)
    words = Column(Text, nullable=False)
    status = Column(String(16), nullable=False, default="open")  # open/confirmed/rejected
    resolved_by = Column(String(64))

    account = relationship("Account")


class AuditEvent(Base):
    """Append-only: who did what, when, to which record. Never updated or deleted."""

    __tablename__ = "audit_events"

    id = Column(Integer, primary_key=True)
    at = Column(DateTime, nullable=False, default=utcnow, index=True)
    actor = Column(String(64), nullable=False)  # system, worker, import, debtor:<id>, agent:<id>
    action = Column(String(64), nullable=False)
    subject_type = Column(String(32), nullable=False)
    subject_id = Column(String(64), nullable=False)
    data = Column(JSON)


class TemplateKey(Base):
    """A debtor-facing text's key and the variables it may use ({"amount": "money", ...})."""

    __tablename__ = "template_keys"

    key = Column(String(128), primary_key=True)
    description = Column(String(256))
    variables = Column(JSON, nullable=False, default=dict)
    # Declared variables a body may leave out; every other one must appear in each body.
    optional = Column(JSON, nullable=False, default=list)
    # An approved WhatsApp template (Twilio Content SID) for this key, one for all locales, and
    # which of our variables fills each of its numbered slots ({"1": "first_name", ...}).
    content_sid = Column(String(34))
    content_variables = Column(JSON)


class MessageTemplate(Base):
    """One version of a text for (key, locale); the live one is the latest published."""

    __tablename__ = "message_templates"
    __table_args__ = (
        UniqueConstraint("key", "locale", "version", name="uq_template_version"),
        Index("ix_template_lookup", "key", "locale", "published", "version"),
    )

    id = Column(Integer, primary_key=True)
    key = Column(ForeignKey("template_keys.key"), nullable=False)
    locale = Column(String(16), nullable=False)
    version = Column(Integer, nullable=False)
    body = Column(Text, nullable=False)
    published = Column(Boolean, nullable=False, default=True)
    source = Column(String(16), nullable=False, default="seed")  # seed / admin
    created_by = Column(String(64), nullable=False, default="seed")
    created_at = Column(DateTime, nullable=False, default=utcnow)


class SandboxMessage(Base):
    """Outbound messages captured by the built-in Twilio-compatible sandbox (no credentials)."""

    __tablename__ = "sandbox_messages"

    id = Column(Integer, primary_key=True)
    sid = Column(String(34), nullable=False, unique=True)
    to = Column(String(40), nullable=False, index=True)
    from_ = Column("from", String(40), nullable=False)
    body = Column(Text)
    status_callback = Column(String(512))
    created_at = Column(DateTime, nullable=False, default=utcnow)


class User(TimestampMixin, Base):
    """A console user: an agent, or an admin (who may also do what agents do)."""

    __tablename__ = "users"

    id = Column(Integer, primary_key=True)
    email = Column(String(254), nullable=False, unique=True)  # stored lower-case
    password_hash = Column(String(256), nullable=False)  # werkzeug scrypt
    role = Column(String(16), nullable=False)  # agent / admin
    active = Column(Boolean, nullable=False, default=True)
    last_login_at = Column(DateTime)


class ConversationNote(Base):
    """An agent's internal note on a conversation: never sent to the debtor."""

    __tablename__ = "conversation_notes"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(ForeignKey("conversations.id"), nullable=False, index=True)
    author_id = Column(ForeignKey("users.id"), nullable=False)
    body = Column(Text, nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)

    author = relationship("User")


class Checkout(TimestampMixin, Base):
    """A payment started from the page: one provider checkout for one option and amount."""

    __tablename__ = "checkouts"
    __table_args__ = (
        UniqueConstraint("provider", "provider_ref", name="uq_checkout_provider_ref"),
    )

    id = Column(Integer, primary_key=True)
    account_id = Column(ForeignKey("accounts.id"), nullable=False, index=True)
    provider = Column(String(32), nullable=False)  # sandbox / stripe
    provider_ref = Column(String(128))  # the provider's session id, once created
    purpose = Column(String(16), nullable=False)  # full / discount / installment
    amount_minor = Column(BigInteger, nullable=False)
    currency = Column(String(3), nullable=False)
    installment_id = Column(ForeignKey("installments.id"))
    # open -> processing (async method pending) -> completed; open -> expired
    status = Column(String(16), nullable=False, default="open")
    url = Column(String(512))

    account = relationship("Account")


class PaymentEvent(Base):
    """A provider webhook event, stored once: its id makes a redelivery a no-op."""

    __tablename__ = "payment_events"
    __table_args__ = (UniqueConstraint("provider", "event_id", name="uq_payment_event"),)

    id = Column(Integer, primary_key=True)
    provider = Column(String(32), nullable=False)
    event_id = Column(String(128), nullable=False)
    type = Column(String(64), nullable=False)
    provider_ref = Column(String(128))  # the checkout session the event is about
    outcome = Column(String(32), nullable=False)  # applied / ignored / duplicate_payment / ...
    received_at = Column(DateTime, nullable=False, default=utcnow)


class ContactRule(TimestampMixin, Base):
    """When and how often a country's debtors may be contacted; country "*" is the default."""

    __tablename__ = "contact_rules"

    country = Column(String(2), primary_key=True)
    # {"mon": ["07:00", "19:00"], ...}: allowed local hours per weekday; a missing day is closed.
    hours = Column(JSON, nullable=False)
    skip_holidays = Column(Boolean, nullable=False, default=False)
    max_per_day = Column(Integer, nullable=False, default=1)  # proactive contacts, all channels
    max_per_week = Column(Integer, nullable=False, default=3)  # rolling 7 days
    min_gap_hours = Column(Integer, nullable=False, default=0)  # between two contacts
    sms_fallback = Column(Boolean, nullable=False, default=True)
    default_timezone = Column(String(64))  # when neither the debtor nor the number says


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
    # planned / deferred -> queued -> sent | failed; or suppressed (never sent)
    status = Column(String(16), nullable=False, default="planned")
    reason = Column(String(64))
    channel = Column(String(16))
    contacted_at = Column(DateTime)  # when the gate let it go: counts toward the caps
    message_id = Column(ForeignKey("messages.id"))
    attempts = Column(Integer, nullable=False, default=0)

    message = relationship("Message")


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
def _audit_is_append_only(_mapper, _conn, target):
    raise PermissionError(f"audit events are append-only (event {target.id})")
