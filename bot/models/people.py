"""Debtors, their debts, and the console's users."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
)
from sqlalchemy.orm import relationship

from bot.models.base import Base, TimestampMixin


class Debtor(TimestampMixin, Base):
    __tablename__ = "debtors"

    id = Column(Integer, primary_key=True)
    full_name = Column(String(200), nullable=False)
    phone = Column(String(20), nullable=False, unique=True)  # E.164
    email = Column(String(254))
    locale = Column(String(16), nullable=False, default="es")
    country = Column(String(2), nullable=False)
    # The zone of the debtor's address (import column), never derived from the number: the
    # contact decision checks it beside every zone of the number.
    timezone = Column(String(64))
    # The address's subdivision (US state, Chilean region, Argentine province): its holidays and
    # rules such as Massachusetts' two texts a week.
    region = Column(String(8))
    # HMAC of the last four ID characters with a per-debtor salt; the key is SECRET_KEY.
    id_secret_hash = Column(String(128), nullable=False)
    id_secret_salt = Column(String(32), nullable=False)
    segment = Column(String(64))
    opted_out_whatsapp_at = Column(DateTime)
    opted_out_sms_at = Column(DateTime)
    opted_out_email_at = Column(DateTime)
    # When the debtor was asked, once, whether a stop meant this channel or all of them.
    opt_out_scope_asked_at = Column(DateTime)
    opt_out_scope_answered_at = Column(DateTime)  # "this channel only" (or "all", recorded too)
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


class User(TimestampMixin, Base):
    """A console user: an agent, or an admin (who may also do what agents do)."""

    __tablename__ = "users"

    id = Column(Integer, primary_key=True)
    email = Column(String(254), nullable=False, unique=True)  # stored lower-case
    password_hash = Column(String(256), nullable=False)  # werkzeug scrypt
    role = Column(String(16), nullable=False)  # agent / admin
    active = Column(Boolean, nullable=False, default=True)
    last_login_at = Column(DateTime)


class ConsoleSession(Base):
    """A signed-in console browser: the cookie holds the random id, this row its SHA-256, so a
    Redis restart signs nobody out and signing out (or the idle timeout) ends it everywhere."""

    __tablename__ = "console_sessions"

    id = Column(String(64), primary_key=True)  # sha256 hex of the cookie's session id
    user_id = Column(ForeignKey("users.id"), nullable=False, index=True)
    created_at = Column(DateTime, nullable=False)
    last_seen_at = Column(DateTime, nullable=False)
