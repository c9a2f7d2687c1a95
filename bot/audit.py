"""The append-only audit trail of contact decisions and changes of money or state."""

from sqlalchemy import inspect

from bot.models import AuditEvent


def record(session, actor, action, subject, data=None):
    """Add an audit event for subject (a model instance, keyed by its primary key: an id, or a
    name such as a template key or a country); the caller's commit writes it."""
    mapper = inspect(subject).mapper
    key = mapper.primary_key_from_instance(subject)
    if None in key:  # a new row whose id the database gives
        session.flush([subject])
        key = mapper.primary_key_from_instance(subject)
    event = AuditEvent(
        actor=actor,
        action=action,
        subject_type=type(subject).__tablename__,
        subject_id="/".join(str(part) for part in key),
        data=data or {},
    )
    session.add(event)
    return event
