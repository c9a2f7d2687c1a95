import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DatabaseError

from bot import audit
from bot.cli import release
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


def test_postgresql_refuses_update_delete_and_truncate_of_the_audit_trail(postgres):
    """On a real PostgreSQL: the row triggers of 0001, and TRUNCATE (which fires no row
    trigger) refused by 0012; a downgrade takes the TRUNCATE trigger away again."""
    url = postgres.create_database()
    release.run(url, say=lambda message: None)
    engine = create_engine(url, future=True)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO audit_events (at, actor, action, subject_type, subject_id, "
                    "data) VALUES (now(), 'system', 'test.event', 'conversations', '1', '{}')"
                )
            )
        for statement in (
            "UPDATE audit_events SET actor = 'x'",
            "DELETE FROM audit_events",
            "TRUNCATE audit_events",
            "TRUNCATE audit_events CASCADE",
        ):
            with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
                conn.execute(text(statement))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar() == 1
        cfg = release.alembic_config(url)
        cfg.attributes["configure_logger"] = False
        command.downgrade(cfg, "0016_email")
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE audit_events"))
        command.upgrade(cfg, "head")
        with pytest.raises(DatabaseError, match="append-only"), engine.begin() as conn:
            conn.execute(text("TRUNCATE audit_events"))
    finally:
        engine.dispose()
