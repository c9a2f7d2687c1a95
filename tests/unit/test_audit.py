import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from bot import audit
from bot.models import AuditEvent, Conversation


def test_audit_events_are_append_only(db):
    conv = Conversation(channel="sms", address="+573001234567")
    db.add(conv)
    event = audit.record(db, "system", "test.event", conv, {"k": "v"})
    db.commit()
    assert (event.subject_type, event.subject_id) == ("conversations", str(conv.id))
    event.actor = "someone else"
    with pytest.raises(PermissionError):
        db.commit()
    db.rollback()
    db.delete(db.get(AuditEvent, event.id))
    with pytest.raises(PermissionError):
        db.commit()
    db.rollback()
    # Below the ORM the database refuses too.
    with pytest.raises(DatabaseError, match="append-only"):
        db.execute(text("UPDATE audit_events SET actor = 'x'"))
    db.rollback()
    with pytest.raises(DatabaseError, match="append-only"):
        db.execute(text("DELETE FROM audit_events"))
