"""E-mail provider events (inbound messages, bounces, complaints), stored once per event id."""

from sqlalchemy import Column, DateTime, ForeignKey, Integer, String

from bot.clock import utcnow
from bot.models.base import Base


class EmailEvent(Base):
    __tablename__ = "email_events"

    id = Column(Integer, primary_key=True)
    event_id = Column(String(255), nullable=False, unique=True)  # the provider's id, or Message-ID
    kind = Column(String(16), nullable=False)  # inbound / bounce / complaint
    address = Column(String(254))
    debtor_id = Column(ForeignKey("debtors.id"))
    message_id = Column(ForeignKey("messages.id"))
    detail = Column(String(512))
    received_at = Column(DateTime, nullable=False, default=utcnow)
