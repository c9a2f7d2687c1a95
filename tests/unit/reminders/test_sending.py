"""The send-time check: WhatsApp's window, a lock since dispatch, and what counts as a contact
(a held-back or failed message does not)."""

from datetime import timedelta, timezone

import pytest
from sqlalchemy import select
from twilio.base.exceptions import TwilioRestException

from bot import clock
from bot.models import AuditEvent, ContactEvent, Conversation, Message
from bot.outbound.deliver import deliver
from bot.reminders import dispatching, planning, sending
from bot.tasks import periodic
from tests.unit.reminders.test_reminders import CAMILA, NOW, camila, rows


def test_free_text_is_held_back_once_the_window_closed_and_does_not_count(
    db, conversation, verified, twilio, buckets
):
    conversation.last_inbound_at = NOW - timedelta(hours=23)
    db.commit()
    planning.plan(db, now=NOW)
    dispatching.dispatch(db, now=NOW, enqueue=False)
    [row] = rows(db, debtor_id=camila(db).id)
    assert (row.status, row.channel) == ("queued", "whatsapp")
    late = NOW + timedelta(hours=1, minutes=5)  # 24.08 h after the debtor's last message
    sending.send(db, [row.id], twilio, buckets, now=late)
    assert twilio.messages.created == []
    [row] = rows(db, debtor_id=camila(db).id)
    assert (row.status, row.reason, row.contacted_at) == ("deferred", "window_closed", None)
    assert db.get(Message, row.message_id).status == "suppressed"
    held = db.execute(select(ContactEvent).where(ContactEvent.action == "held_back")).scalar_one()
    assert (held.reason, held.channel) == ("window_closed", "whatsapp")
    # The held-back message used up nothing: the same day, it goes by SMS.
    dispatching.dispatch(db, now=late, enqueue=False)
    [row] = rows(db, debtor_id=camila(db).id)
    assert (row.status, row.channel) == ("queued", "sms")
    sending.send(db, [row.id], twilio, buckets, now=late)
    assert [c["to"] for c in twilio.messages.created] == [CAMILA]
    assert rows(db, id=row.id)[0].contacted_at is not None


def test_a_lock_since_dispatch_makes_the_text_discreet_again(db, verified, twilio, buckets):
    planning.plan(db, now=NOW)
    dispatching.dispatch(db, now=NOW, enqueue=False)
    [row] = rows(db, debtor_id=camila(db).id)
    assert db.get(Message, row.message_id).template_key == "reminder.overdue.friendly"
    sms = db.execute(select(Conversation).where(Conversation.address == CAMILA)).scalar_one()
    sms.locked_at = NOW  # three wrong answers meanwhile
    db.commit()
    sending.send(db, [row.id], twilio, buckets, now=NOW)
    assert twilio.messages.created == []
    [row] = rows(db, debtor_id=camila(db).id)
    assert (row.status, row.reason) == ("deferred", "discreet_needed")
    dispatching.dispatch(db, now=NOW, enqueue=False)
    [row] = rows(db, debtor_id=camila(db).id)
    assert db.get(Message, row.message_id).template_key == "reminder.discreet.locked"


def test_a_message_twilio_refuses_is_not_a_contact(db, verified, twilio, buckets):
    planning.plan(db, now=NOW)
    dispatching.dispatch(db, now=NOW, enqueue=False)
    [row] = rows(db, debtor_id=camila(db).id)
    twilio.messages.failures.append(TwilioRestException(400, "uri", "Invalid 'To'", code=21211))
    sending.send(db, [row.id], twilio, buckets, now=NOW)
    [row] = rows(db, debtor_id=camila(db).id)
    assert (row.status, row.contacted_at) == ("failed", None)
    failed = db.execute(select(ContactEvent).where(ContactEvent.action == "failed")).scalar_one()
    assert failed.reason == "twilio:21211"


def test_a_sent_reminder_is_logged_with_the_moment_it_was_accepted(
    db, verified, twilio, buckets, time_machine
):
    # The acceptance moment is read from the clock after Twilio answers: the clock is at NOW.
    time_machine.move_to(NOW.replace(tzinfo=timezone.utc), tick=False)
    planning.plan(db, now=NOW)
    dispatching.dispatch(db, now=NOW, enqueue=False)
    [row] = rows(db, debtor_id=camila(db).id)
    sending.send(db, [row.id], twilio, buckets, now=NOW)
    [row] = rows(db, debtor_id=camila(db).id)
    sent = db.execute(select(ContactEvent).where(ContactEvent.action == "sent")).scalar_one()
    assert (sent.at, sent.channel, sent.message_id) == (row.contacted_at, "sms", row.message_id)
    # The moment Twilio accepted it (the clock's, not the planning NOW) in the debtor's zone.
    local = clock.aware(sent.at, "America/Bogota")
    assert sent.zones == "America/Bogota"
    assert sent.local_times == f"America/Bogota {local:%Y-%m-%d %H:%M} -0500"
    assert sent.pack == "CO@2026.12"


def _callback_during_settle(app, monkeypatch, status_first):
    """The 63016 callback reaches the web while the send job is settling the same reminder:
    the web applies it in its own session just before the job drains the early callbacks."""
    from bot.db import get_db
    from bot.outbound import status

    drain = sending.apply_early_status

    def racing(session, message):
        if status_first:  # the 'sent' callback beat the API response and was held
            status.hold_early_status(message.provider_sid, "sent")
        web = get_db().Session()
        try:
            assert status.apply_status(web, message.provider_sid, "failed", "63016")
        finally:
            web.close()
        drain(session, message)

    monkeypatch.setattr(sending, "apply_early_status", racing)


def _sms_to_camila(db):
    db.expire_all()
    return (
        db.execute(
            select(Message)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Conversation.channel == "sms", Conversation.address == CAMILA)
        )
        .scalars()
        .all()
    )


@pytest.mark.parametrize("status_first", [True, False], ids=["early-sent", "no-early"])
def test_a_63016_callback_racing_the_send_job_falls_back_once(
    app, db, conversation, twilio, buckets, monkeypatch, status_first
):
    race_a_63016_callback(app, db, conversation, twilio, buckets, monkeypatch, status_first)


def race_a_63016_callback(app, db, conversation, twilio, buckets, monkeypatch, status_first):
    """Before the fix: with the 'sent' callback held, Camila got the SMS twice (a second
    fallback, left to the outbound sweep); without it, the reminder was marked sent and its
    fallback never went."""
    conversation.last_inbound_at = NOW - timedelta(hours=23)  # the gate thinks it is open
    db.commit()
    planning.plan(db, now=NOW)
    dispatching.dispatch(db, now=NOW, enqueue=False)
    [row] = rows(db, debtor_id=camila(db).id)
    _callback_during_settle(app, monkeypatch, status_first)
    sending.send(db, [row.id], twilio, buckets, now=NOW)
    monkeypatch.undo()
    [row] = rows(db, debtor_id=camila(db).id)
    # One fallback, and the reminder points at it: nothing is left for another path to send.
    [fallback] = _sms_to_camila(db)
    assert (row.status, row.channel, row.reason) == ("queued", "sms", "fallback:63016")
    assert row.message_id == fallback.id
    fallbacks = db.execute(
        select(AuditEvent).where(AuditEvent.action == "reminder.fallback")
    ).scalars()
    assert len(list(fallbacks)) == 1
    # The fallback's job, the stale-send sweep's job and the outbound sweep: one SMS.
    sending.send(db, [row.id], twilio, buckets, now=NOW)
    sending.send(db, [row.id], twilio, buckets, now=NOW)
    with app.app_context():
        requeued = periodic.sweep_outbound(clock.utcnow() + timedelta(days=1))
    for message in _sms_to_camila(db):  # what the sweep's deliver_outbound jobs would do
        deliver(db, message, twilio)
    assert requeued == 0
    assert [c["to"] for c in twilio.messages.created].count(CAMILA) == 1
    assert rows(db, id=row.id)[0].status == "sent"
