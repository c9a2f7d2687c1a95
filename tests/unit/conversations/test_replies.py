import pytest

from bot.conversations.replies import chosen_payload, short_answer
from bot.models import Message


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("dale", "affirm"),
        ("Sí, ese día", "affirm"),
        ("ok perfecto", "affirm"),
        ("listo!!", "affirm"),
        ("yes please", "affirm"),
        ("sounds good", "affirm"),
        ("no", "deny"),
        ("nop, gracias", "deny"),
        ("no es mío", None),  # "no, it is not mine": not a plain no
        ("sí pero el 30", None),  # more than a yes: the language model reads it
        ("quiero pagar", None),
        ("", None),
    ],
)
def test_short_answers(text, answer):
    assert short_answer(text) == answer


def _offer(db, conversation, buttons, at):
    row = Message(
        conversation_id=conversation.id,
        direction="out",
        body="?",
        buttons=buttons,
        status="sent",
        created_at=at,
    )
    db.add(row)
    db.commit()
    return row


def test_a_short_yes_takes_the_one_offered_choice(db, conversation):
    from bot.clock import utcnow

    now = utcnow()
    _offer(
        db,
        conversation,
        [
            {"title": "Pagar el 15", "payload": "2026-12-15", "on": "affirm"},
            {"title": "Asesor", "payload": "/request_agent"},
        ],
        now,
    )
    inbound = Message(
        conversation_id=conversation.id, direction="in", status="received", created_at=now
    )
    for body, payload in [
        ("sí, ese día", "2026-12-15"),
        ("2", "/request_agent"),
        ("no", None),
        ("quiero otra fecha", None),
    ]:
        inbound.body = body
        assert chosen_payload(db, inbound) == payload


def test_a_yes_stands_for_nothing_when_two_choices_could_be_meant(db, conversation):
    from bot.clock import utcnow

    now = utcnow()
    _offer(
        db, conversation, [{"title": "A", "payload": "/a"}, {"title": "B", "payload": "/b"}], now
    )
    inbound = Message(
        conversation_id=conversation.id,
        direction="in",
        status="received",
        created_at=now,
        body="dale",
    )
    assert chosen_payload(db, inbound) is None
