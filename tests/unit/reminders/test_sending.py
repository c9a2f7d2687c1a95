"""The send-time check: WhatsApp's window, a lock since dispatch, and what counts as a contact
(a held-back or failed message does not)."""

from datetime import timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select
from twilio.base.exceptions import TwilioRestException

from bot.models import ContactEvent, Conversation, Message
from bot.reminders import dispatching, planning, sending
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


def test_a_sent_reminder_is_logged_with_the_moment_it_was_accepted(db, verified, twilio, buckets):
    planning.plan(db, now=NOW)
    dispatching.dispatch(db, now=NOW, enqueue=False)
    [row] = rows(db, debtor_id=camila(db).id)
    sending.send(db, [row.id], twilio, buckets, now=NOW)
    [row] = rows(db, debtor_id=camila(db).id)
    sent = db.execute(select(ContactEvent).where(ContactEvent.action == "sent")).scalar_one()
    assert (sent.at, sent.channel, sent.message_id) == (row.contacted_at, "sms", row.message_id)
    # The local time of the moment it was accepted (the suite's clock: TEST_NOW moves it).
    local = sent.at.replace(tzinfo=timezone.utc).astimezone(ZoneInfo("America/Bogota"))
    assert sent.zones == "America/Bogota"
    assert sent.local_times.startswith(f"America/Bogota {local:%Y-%m-%d %H:%M}")
    assert sent.pack == "CO@2026.12"
