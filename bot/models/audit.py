"""The append-only audit trail."""

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    String,
    event,
)

from bot.clock import utcnow
from bot.models.base import Base


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


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
def _audit_is_append_only(_mapper, _conn, target):
    raise PermissionError(f"audit events are append-only (event {target.id})")
