"""Local payment rails: pay-by-reference methods, receipts sent as photos, auto-debit mandates
and their charges, stored files, and the documents issued after payments (money in integer
minor units beside its currency)."""

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import deferred, relationship

from bot.clock import utcnow
from bot.models.base import Base, TimestampMixin


class RailMethod(TimestampMixin, Base):
    """One way to pay in a country (a bank account, a wallet, a cash network), with the data
    the creditor filled in (values) against the fields its kind needs (fields)."""

    __tablename__ = "rail_methods"
    __table_args__ = (UniqueConstraint("country", "code", name="uq_rail_method"),)

    id = Column(Integer, primary_key=True)
    country = Column(String(2), nullable=False)
    code = Column(String(32), nullable=False)  # nequi, spei, transferencia, ...
    name = Column(String(120), nullable=False)
    kind = Column(String(32), nullable=False)  # bank_transfer, wallet, cash_reference, ...
    # A provider adapter that issues the payment itself (mercadopago): shown, never instructed.
    via = Column(String(32))
    confirmation = Column(String(16), nullable=False)  # receipt (agent) / provider (webhook)
    fields = Column(JSON, nullable=False)  # {name: {required, pattern, check, choices, label}}
    values = Column(JSON, nullable=False)  # {name: value}, filled by an admin
    reference_where = Column(JSON)  # {locale: where the debtor writes our reference}
    position = Column(Integer, nullable=False, default=0)
    enabled = Column(Boolean, nullable=False, default=False)


class StoredFile(Base):
    """Bytes the bot keeps (a receipt photo, a PDF): in the database, so every web and worker
    process reads the same file without a shared disk."""

    __tablename__ = "stored_files"

    id = Column(Integer, primary_key=True)
    content_type = Column(String(64), nullable=False)
    size = Column(Integer, nullable=False)
    sha256 = Column(String(64), nullable=False, index=True)
    data = deferred(Column(LargeBinary, nullable=False))  # loaded only when served
    created_at = Column(DateTime, nullable=False, default=utcnow)


class PaymentReceipt(TimestampMixin, Base):
    """A photo or PDF of a payment the debtor sent: a payment to verify by an agent."""

    __tablename__ = "payment_receipts"
    __table_args__ = (UniqueConstraint("message_id", "media_index", name="uq_receipt_media"),)

    id = Column(Integer, primary_key=True)
    message_id = Column(ForeignKey("messages.id"), nullable=False)
    media_index = Column(Integer, nullable=False)
    conversation_id = Column(ForeignKey("conversations.id"), nullable=False, index=True)
    debtor_id = Column(ForeignKey("debtors.id"), index=True)  # None: an unknown number
    account_id = Column(ForeignKey("accounts.id"))  # suggested, then the one confirmed
    file_id = Column(ForeignKey("stored_files.id"))  # None when it could not be kept
    content_type = Column(String(64))
    # pending -> confirmed | rejected; unusable: refused type or size, or not fetched
    status = Column(String(16), nullable=False, default="pending")
    problem = Column(String(120))  # why it is unusable
    amount_minor = Column(BigInteger)  # what the agent read on it
    currency = Column(String(3))
    paid_on = Column(Date)
    method = Column(String(64))
    reason = Column(String(500))  # the agent's reason to reject
    resolved_by = Column(String(64))
    resolved_at = Column(DateTime)
    payment_id = Column(ForeignKey("payments.id"))

    account = relationship("Account")
    debtor = relationship("Debtor")
    conversation = relationship("Conversation")
    file = relationship("StoredFile")


class AutodebitMandate(TimestampMixin, Base):
    """A debtor's consent to charge a saved payment method on each installment's due date."""

    __tablename__ = "autodebit_mandates"

    id = Column(Integer, primary_key=True)
    account_id = Column(ForeignKey("accounts.id"), nullable=False, index=True)
    provider = Column(String(32), nullable=False)
    # pending (setup page opened) -> active -> cancelled | suspended (a charge needs the debtor)
    status = Column(String(16), nullable=False, default="pending")
    setup_ref = Column(String(128), unique=True)  # the provider's setup session
    customer_ref = Column(String(128))
    method_ref = Column(String(128))  # the saved payment method (never card numbers)
    brand = Column(String(32))
    last4 = Column(String(4))
    consent = Column(JSON)  # what the debtor agreed to: schedule, wording version, when
    activated_at = Column(DateTime)
    cancelled_at = Column(DateTime)
    cancelled_by = Column(String(64))

    account = relationship("Account")


class AutodebitAttempt(TimestampMixin, Base):
    """One off-session charge of one installment; the same attempt is never charged twice."""

    __tablename__ = "autodebit_attempts"
    __table_args__ = (UniqueConstraint("installment_id", "attempt", name="uq_autodebit_attempt"),)

    id = Column(Integer, primary_key=True)
    mandate_id = Column(ForeignKey("autodebit_mandates.id"), nullable=False, index=True)
    installment_id = Column(ForeignKey("installments.id"), nullable=False)
    attempt = Column(Integer, nullable=False)  # 1 on the due date, then the retry days
    amount_minor = Column(BigInteger, nullable=False)
    currency = Column(String(3), nullable=False)
    checkout_id = Column(ForeignKey("checkouts.id"))
    # charging -> succeeded | processing | declined (retry later) | needs_debtor | provider_down
    status = Column(String(16), nullable=False, default="charging")
    provider_ref = Column(String(128))
    code = Column(String(64))  # the provider's error code, e.g. card_declined
    decline_code = Column(String(64))
    notified_at = Column(DateTime)  # the fallback reminder with a link was queued
    notice = Column(String(32))  # what became of the fallback: sent / suppressed reason

    mandate = relationship("AutodebitMandate")


class Document(Base):
    """A receipt or a paz y salvo: the facts it states, their signature, and the PDF."""

    __tablename__ = "documents"

    id = Column(Integer, primary_key=True)
    public_id = Column(String(32), nullable=False, unique=True)  # in URLs; not guessable
    kind = Column(String(16), nullable=False)  # receipt / paz_y_salvo
    # One receipt per payment, one paz y salvo per account.
    dedupe_key = Column(String(64), nullable=False, unique=True)
    number = Column(String(32), nullable=False)  # printed: RC-000042, PS-000007
    account_id = Column(ForeignKey("accounts.id"), nullable=False, index=True)
    payment_id = Column(ForeignKey("payments.id"))
    locale = Column(String(16), nullable=False)
    facts = Column(JSON, nullable=False)  # what the PDF states, signed by tag
    key_id = Column(String(8), nullable=False)
    tag = Column(String(64), nullable=False)
    file_id = Column(ForeignKey("stored_files.id"), nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)
    sent_at = Column(DateTime)  # queued to the debtor as a message
    notes = Column(Text)

    file = relationship("StoredFile")
