"""Plans, promises, payments, policies, disputes and claims (integer minor units, never a float)."""

from datetime import date

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
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

# The effective date of a policy version that has always applied.
EPOCH = date(2000, 1, 1)


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
    # The late fee charged on it (None: none charged yet), once, by the daily accrual.
    late_fee_minor = Column(BigInteger)

    plan = relationship("PaymentPlan", back_populates="installments")


class Promise(TimestampMixin, Base):
    __tablename__ = "promises"
    # The reminders tick breaks pending promises past their date.
    __table_args__ = (
        Index(
            "ix_promises_pending",
            "promised_date",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )

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
    status = Column(String(16), nullable=False, default="succeeded")  # statuses.Payment
    received_at = Column(DateTime, nullable=False, default=utcnow)
    checkout_id = Column(ForeignKey("checkouts.id"))
    # The provider's charge behind a checkout (Stripe: the session's PaymentIntent), which its
    # refund and dispute events name instead of the checkout.
    intent_ref = Column(String(128), index=True)
    # Paid beyond what was owed: kept for an agent to refund or credit, never lost.
    surplus_minor = Column(BigInteger, nullable=False, default=0)
    # Written off by a pay-in-full discount settled with this payment.
    discount_minor = Column(BigInteger, nullable=False, default=0)


class PaymentPolicy(TimestampMixin, Base):
    """What the creditor allows in a portfolio: plans, promises, deferrals, discounts."""

    __tablename__ = "payment_policies"
    __table_args__ = (
        UniqueConstraint("portfolio", "effective_from", name="uq_payment_policy_version"),
    )

    id = Column(Integer, primary_key=True)
    portfolio = Column(String(64), nullable=False)  # "default" unless segmented
    # A version of the portfolio's policy applies from this day (the debtor's date) until the
    # next version's; a change never reaches back before its own date.
    effective_from = Column(Date, nullable=False, default=lambda: EPOCH)
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
    # How a payment is shared between the buckets: a comma-separated order of fee, interest
    # and principal (statuses.Bucket.OWING).
    allocation_order = Column(String(32), nullable=False, default="fee,interest,principal")
    # Simple daily interest on overdue principal: an annual rate in basis points, capped by a
    # maximum annual rate (e.g. the legal usury rate) and a maximum total of interest in basis
    # points of the principal (0 means no cap); days counted on a 360- or 365-day year, or 0
    # for the actual days of each year (366 in a leap year).
    interest_rate_bps = Column(Integer, nullable=False, default=0)
    interest_max_rate_bps = Column(Integer, nullable=False, default=0)
    interest_max_total_bps = Column(Integer, nullable=False, default=0)
    interest_basis = Column(Integer, nullable=False, default=365)
    interest_grace_days = Column(Integer, nullable=False, default=0)
    # The smallest partial payment ("abono") a debtor may choose (minor units; 0 = any).
    min_partial_minor = Column(BigInteger, nullable=False, default=0)
    # Settlements: the bot offers offer_pct % of the balance, paid within valid_days, to close
    # the account; the debtor may ask down to min_pct %; only on debts overdue at least
    # min_days_overdue days. offer_pct 0 means no settlements.
    settlement_offer_pct = Column(Integer, nullable=False, default=0)
    settlement_min_pct = Column(Integer, nullable=False, default=0)
    settlement_valid_days = Column(Integer, nullable=False, default=0)
    settlement_min_days_overdue = Column(Integer, nullable=False, default=0)


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
    # A refund or chargeback: the amount taken back (kept to apply it when the payment it
    # names arrives later).
    amount_minor = Column(BigInteger)
    received_at = Column(DateTime, nullable=False, default=utcnow)
