"""The declarative base and the timestamps most tables carry."""

from sqlalchemy import Column, DateTime
from sqlalchemy.orm import declarative_base

from bot.clock import utcnow

Base = declarative_base()


class TimestampMixin:
    created_at = Column(DateTime, nullable=False, default=utcnow)
    updated_at = Column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)
