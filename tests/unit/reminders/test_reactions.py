"""An agent handing a conversation back releases the reminders that waited for it."""

from datetime import timedelta, timezone

from sqlalchemy import select

from bot import users
from bot.conversations import handover
from bot.models import AuditEvent, Conversation
from bot.reminders import dispatching, planning
from tests.unit.reminders.test_reminders import NOW, camila, rows


def test_closing_the_conversation_sends_the_waiting_reminder(app, db, verified, time_machine):
    time_machine.move_to(NOW.replace(tzinfo=timezone.utc), tick=False)
    debtor = camila(db)
    conversation = db.execute(
        select(Conversation).where(Conversation.address == debtor.phone)
    ).scalar_one()
    users.create_user(db, "ana@example.com", "correct horse battery", "agent")
    agent = users.find(db, "ana@example.com")
    db.commit()
    handover.claim(db, conversation.id, agent)
    db.commit()
    planning.plan(db, now=NOW)
    dispatching.dispatch(db, now=NOW, enqueue=False)
    assert rows(db, debtor_id=debtor.id)[0].reason == "agent_held"
    later = NOW + timedelta(minutes=20)  # before the gate's own hourly look
    time_machine.move_to(later.replace(tzinfo=timezone.utc), tick=False)
    db.refresh(conversation)
    handover.close(db, conversation, agent, "resolved")
    db.commit()
    [row] = rows(db, debtor_id=debtor.id)
    assert (row.status, row.due_at) == ("deferred", later)
    released = db.execute(
        select(AuditEvent).where(AuditEvent.action == "reminders.released")
    ).scalar_one()
    assert released.data == {"reminders": 1}
    dispatching.dispatch(db, now=later, enqueue=False)
    [row] = rows(db, debtor_id=debtor.id)
    assert row.status == "queued"
