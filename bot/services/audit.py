"""The append-only audit trail of contact decisions and changes of money or state."""

from ..models import AuditEvent


def record(session, actor, action, subject, data=None):
    """Add an audit event for subject (a model instance); the caller's commit writes it."""
    if subject.id is None:
        session.flush([subject])
    event = AuditEvent(
        actor=actor,
        action=action,
        subject_type=type(subject).__tablename__,
        subject_id=str(subject.id),
        data=data or {},
    )
    session.add(event)
    return event
