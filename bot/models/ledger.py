"""The ledger: every amount that changes a balance is an entry; balances are sums of entries.

Entries are never updated or deleted (a mistake is undone by a reversal entry). The per-bucket
sums in ledger_balances and Account.balance_minor are caches kept in the same transaction as the
entries they sum (`bot.ledger.entries.verify` proves it).
"""

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
)

from bot.clock import utcnow
from bot.models.base import Base, TimestampMixin

# A 64-bit id on PostgreSQL; SQLite needs INTEGER for an auto-incrementing rowid.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class LedgerEntry(Base):
    """One signed amount on one bucket of an account: positive adds to what the debtor owes."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        # Idempotency: an accrual, a payment's allocation or a reversal is posted once. Its
        # index also finds an account's entries (no second index to write on every insert).
        UniqueConstraint("account_id", "key", name="uq_ledger_entry_key"),
    )

    id = Column(BigId, primary_key=True)
    account_id = Column(ForeignKey("accounts.id"), nullable=False)
    kind = Column(String(16), nullable=False)  # statuses.Entry
    bucket = Column(String(16), nullable=False)  # statuses.Bucket
    amount_minor = Column(BigInteger, nullable=False)
    currency = Column(String(3), nullable=False)
    # The debtor's day the amount belongs to (interest: the last day of its period).
    effective_date = Column(Date, nullable=False)
    key = Column(String(96))
    payment_id = Column(ForeignKey("payments.id"))
    reverses_id = Column(ForeignKey("ledger_entries.id"))
    # The policy version that set a fee, interest or settlement write-off.
    policy_id = Column(Integer)
    actor = Column(String(64), nullable=False)
    memo = Column(String(200))
    created_at = Column(DateTime, nullable=False, default=utcnow)


class LedgerBalance(Base):
    """An account's sums per bucket (caches of its entries) and its accrual state."""

    __tablename__ = "ledger_balances"

    account_id = Column(ForeignKey("accounts.id"), primary_key=True)
    principal_minor = Column(BigInteger, nullable=False, default=0)
    interest_minor = Column(BigInteger, nullable=False, default=0)
    fee_minor = Column(BigInteger, nullable=False, default=0)
    credit_minor = Column(BigInteger, nullable=False, default=0)  # <= 0: held for the debtor
    # All interest ever charged, net of reversals: what a total-interest cap limits.
    interest_charged_minor = Column(BigInteger, nullable=False, default=0)
    # The last day interest was accrued for, and the fraction of a minor unit carried over
    # (in billionths), so a small balance still accrues its cents over the days.
    accrued_through = Column(Date)
    carry_nano = Column(BigInteger, nullable=False, default=0)
    # The due date whose late fee was charged (an account without a plan pays it once).
    late_fee_for = Column(Date)
    # The debtor's date the ledger opened: the opening balance already holds what the creditor
    # charged before it, so interest and late fees start after this day.
    opened_on = Column(Date, nullable=False)


class Settlement(TimestampMixin, Base):
    """An agreed settlement: paying amount_minor by pay_by closes the account; the rest is
    written off. policy_id is the policy version that allowed it (None: an admin override)."""

    __tablename__ = "settlements"

    id = Column(Integer, primary_key=True)
    account_id = Column(ForeignKey("accounts.id"), nullable=False, index=True)
    currency = Column(String(3), nullable=False)
    balance_minor = Column(BigInteger, nullable=False)  # what was owed when agreed
    amount_minor = Column(BigInteger, nullable=False)  # what closes the account
    pct = Column(Integer, nullable=False)  # amount as a whole % of the balance (rounded up)
    agreed_on = Column(Date, nullable=False)  # the debtor's date
    pay_by = Column(Date, nullable=False)
    status = Column(String(16), nullable=False, default="active")  # statuses.Settlement
    paid_minor = Column(BigInteger, nullable=False, default=0)
    policy_id = Column(Integer)
    override_reason = Column(Text)
    created_by = Column(String(64), nullable=False)
