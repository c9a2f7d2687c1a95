from datetime import datetime, timedelta, timezone

from bot.conversations import waiting
from bot.models import Conversation

MONDAY_10_BOGOTA = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)
SUNDAY_NIGHT_BOGOTA = datetime(2026, 11, 30, 4, 0, tzinfo=timezone.utc)


def queue(db, conversation, minutes_ago):
    conversation.needs_agent = True
    conversation.agent_reason = "request_agent"
    conversation.escalated_at = MONDAY_10_BOGOTA.replace(tzinfo=None) - timedelta(
        minutes=minutes_ago
    )
    db.commit()


def test_the_wait_grows_with_the_conversations_ahead(db, app, conversation):
    queue(db, conversation, 5)
    assert waiting.is_waiting(conversation)
    message = waiting.still_waiting_message(db, app.config, conversation, MONDAY_10_BOGOTA)
    assert message == {"template": "agent.still_waiting", "vars": {"minutes": 5}}
    for n in range(2):
        earlier = Conversation(
            channel="sms",
            address=f"+5730000000{n}",
            needs_agent=True,
            escalated_at=conversation.escalated_at - timedelta(minutes=n + 1),
        )
        db.add(earlier)
    db.commit()
    message = waiting.still_waiting_message(db, app.config, conversation, MONDAY_10_BOGOTA)
    assert message["vars"] == {"minutes": 15}


def test_off_shift_the_debtor_hears_when_the_team_is_back(db, app, conversation):
    queue(db, conversation, 1)
    message = waiting.still_waiting_message(db, app.config, conversation, SUNDAY_NIGHT_BOGOTA)
    assert message["template"] == "agent.still_waiting_later"
    assert message["vars"]["opens_day"] == "2026-11-30" and message["vars"]["zone"]


def test_a_conversation_an_agent_holds_is_not_waiting(db, conversation):
    queue(db, conversation, 1)
    conversation.state = "agent"
    assert not waiting.is_waiting(conversation)
