"""Dispatching through the contact decision: the discreet variant until the right party is
confirmed, opt-out instructions for US debtors, every decision in the contact log."""

from datetime import datetime, timedelta

from sqlalchemy import select

from bot.models import ContactEvent, Conversation, Debtor, Message
from bot.reminders import dispatching, planning
from tests.unit.reminders.test_reminders import NOW, camila, rows

EMILY = "+12025550143"  # the US demo debtor, en-US


def message_of(db, row):
    return db.get(Message, row.message_id)


def test_an_unverified_number_gets_the_discreet_text(db, demo_debtors):
    planning.plan(db, now=NOW)
    dispatching.dispatch(db, now=NOW, enqueue=False)
    row = rows(db, debtor_id=camila(db).id)[0]
    message = message_of(db, row)
    assert message.template_key == "reminder.discreet"
    assert "Camila" in message.body
    for secret in ("150.000", "DEMO-CO-001", "/pay/", "cuotas"):
        assert secret not in message.body
    assert message.variables == {"first_name": "Camila"}


def test_after_a_lock_the_text_is_discreet_again(db, verified):
    debtor = camila(db)
    conversation = db.execute(
        select(Conversation).where(Conversation.address == debtor.phone)
    ).scalar_one()
    conversation.locked_at = NOW - timedelta(hours=1)
    db.commit()
    planning.plan(db, now=NOW)
    dispatching.dispatch(db, now=NOW, enqueue=False)
    row = rows(db, debtor_id=debtor.id)[0]
    assert message_of(db, row).template_key == "reminder.discreet.locked"


def test_the_creditor_is_named_only_when_it_opted_in(app, db, demo_debtors):
    app.config.update(CREDITOR_NAME="Tienda Sol", FIRST_CONTACT_NAMES_CREDITOR=True)
    planning.plan(db, now=NOW)
    dispatching.dispatch(db, now=NOW, enqueue=False)
    message = message_of(db, rows(db, debtor_id=camila(db).id)[0])
    assert message.template_key == "reminder.discreet.named" and "Tienda Sol" in message.body


def test_us_reminders_carry_opt_out_instructions_last(db, verified):
    planning.plan(db, now=NOW)
    dispatching.dispatch(db, now=NOW, enqueue=False)
    emily = db.execute(select(Debtor).where(Debtor.phone == EMILY)).scalar_one()
    row = rows(db, debtor_id=emily.id)[0]
    body = message_of(db, row).body
    assert body.rstrip().endswith("Reply STOP to stop these messages.")
    assert "installments" in body  # the offer line, before the instructions
    assert body.count("STOP") == 1


def test_a_spanish_speaker_in_the_us_gets_the_line_added(db, verified):
    emily = db.execute(select(Debtor).where(Debtor.phone == EMILY)).scalar_one()
    emily.locale = "es-US"
    db.commit()
    planning.plan(db, now=NOW)
    dispatching.dispatch(db, now=NOW, enqueue=False)
    body = message_of(db, rows(db, debtor_id=emily.id)[0]).body
    assert body.endswith("responde STOP o BAJA.")


def test_every_decision_is_in_the_contact_log(db, verified):
    night = datetime(2026, 11, 18, 3, 0)  # 22:00 in Bogotá
    planning.plan(db, now=night)
    dispatching.dispatch(db, now=night, enqueue=False)
    debtor = camila(db)
    [deferred] = (
        db.execute(select(ContactEvent).where(ContactEvent.debtor_id == debtor.id)).scalars().all()
    )
    assert (deferred.action, deferred.reason, deferred.rule) == (
        "deferred",
        "outside_hours",
        "law:co.hours, policy:CO",
    )
    assert deferred.local_times == "America/Bogota 2026-11-17 22:00 -0500"
    assert deferred.pack == "CO@2026.12"
    morning = datetime(2026, 11, 18, 12, 0)
    dispatching.dispatch(db, now=morning, enqueue=False)
    queued = db.execute(
        select(ContactEvent).where(
            ContactEvent.debtor_id == debtor.id, ContactEvent.action == "queued"
        )
    ).scalar_one()
    assert (queued.channel, queued.template_key, queued.template_version) == (
        "sms",
        "reminder.overdue.friendly",
        1,
    )
    assert queued.locale == "es-CO" and queued.zones == "America/Bogota"


def test_an_agent_holding_the_conversation_defers_until_the_hand_back(db, verified):
    debtor = camila(db)
    conversation = db.execute(
        select(Conversation).where(Conversation.address == debtor.phone)
    ).scalar_one()
    conversation.state = "agent"
    db.commit()
    planning.plan(db, now=NOW)
    dispatching.dispatch(db, now=NOW, enqueue=False)
    [row] = rows(db, debtor_id=debtor.id)
    assert (row.status, row.reason, row.contacted_at) == ("deferred", "agent_held", None)
    # Days later the agent still holds it: the reminder has not expired.
    later = NOW + timedelta(days=5)
    dispatching.dispatch(db, now=later, enqueue=False)
    [row] = rows(db, debtor_id=debtor.id)
    assert (row.status, row.reason) == ("deferred", "agent_held") and row.expires_at > later
