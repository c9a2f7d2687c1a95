"""The message template store."""

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
)

from bot.clock import utcnow
from bot.models.base import Base


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


class EmailTemplate(Base):
    """One version of a key's e-mail for a locale: subject, HTML body and plain-text body, with
    the key's declared variables. The live one is the latest published; a key without one is
    e-mailed as its text body in the common layout."""

    __tablename__ = "email_templates"
    __table_args__ = (
        UniqueConstraint("key", "locale", "version", name="uq_email_template_version"),
    )

    id = Column(Integer, primary_key=True)
    key = Column(ForeignKey("template_keys.key"), nullable=False)
    locale = Column(String(16), nullable=False)
    version = Column(Integer, nullable=False)
    subject = Column(String(255), nullable=False)
    html = Column(Text, nullable=False)  # the content inside the layout; CSS is inlined
    text = Column(Text, nullable=False)
    published = Column(Boolean, nullable=False, default=True)
    source = Column(String(16), nullable=False, default="seed")  # seed / admin
    created_by = Column(String(64), nullable=False, default="seed")
    created_at = Column(DateTime, nullable=False, default=utcnow)
