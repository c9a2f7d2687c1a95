import pytest
from sqlalchemy import select

from bot.conversations import verification
from bot.models import AuditEvent, Conversation


@pytest.mark.parametrize(
    ("text", "candidate"),
    [
        ("4821", "4821"),
        ("mi cedula termina en 4821", "4821"),
        ("son 4 8 2 1", "4821"),
        ("123k", "123K"),
        ("mi rut termina en 872K!", "872K"),
        ("hola", None),
        ("12345", None),
        # The end of a phone number is never an ID answer (a failed attempt otherwise).
        ("anoten este 300-123-4567", None),
        ("llamenme al (300) 123 4567", None),
        ("+52 1 55 1234 5678", None),
    ],
)
def test_extract_candidate(text, candidate):
    assert verification.extract_candidate(text) == candidate


def test_right_digits_verify(db, conversation):
    assert verification.attempt(db, conversation, "termina en 4821")[0] == "verified"
    assert verification.is_verified(conversation)


def test_bad_format_is_not_an_attempt(db, conversation):
    assert verification.attempt(db, conversation, "no se") == ("invalid_format", 3)
    assert conversation.verification_failures == 0


def test_three_failures_lock_and_hand_to_agent(db, conversation):
    assert verification.attempt(db, conversation, "1111") == ("failed", 2)
    assert verification.attempt(db, conversation, "2222") == ("failed", 1)
    assert verification.attempt(db, conversation, "3333") == ("locked", 0)
    assert verification.is_locked(conversation)
    assert conversation.needs_agent and conversation.agent_reason == "failed_verification"
    # Even the right digits are refused while locked.
    assert verification.attempt(db, conversation, "4821") == ("locked", 0)
    db.commit()
    actions = db.execute(select(AuditEvent.action)).scalars().all()
    assert actions.count("verification.failed") == 3 and "conversation.locked" in actions


def test_unknown_number_never_verifies(db):
    conv = Conversation(channel="sms", address="+573009999999")
    db.add(conv)
    db.flush()
    assert verification.attempt(db, conv, "4821") == ("failed", 2)


@pytest.mark.parametrize(
    ("text", "candidate"),
    [
        ("4821", "4821"),
        (" 4821. ", "4821"),
        ("hola, mi cédula termina en 4821, cuánto debo?", "4821"),
        ("my ID ends with 5512", "5512"),
        ("te pago el 2026", None),  # digits without a word saying they are the ID
        ("puedo abonar 5000", None),
        ("cc 4821", "4821"),
    ],
)
def test_early_candidate_needs_digits_alone_or_words_saying_so(text, candidate):
    assert verification.early_candidate(text) == candidate


def test_verifying_on_a_number_marked_wrong_undoes_the_mark(db, conversation):
    from bot.clock import utcnow

    conversation.debtor.wrong_number_at = utcnow()
    db.commit()
    assert verification.attempt(db, conversation, "4821")[0] == "verified"
    db.commit()
    assert conversation.debtor.wrong_number_at is None
    actions = db.execute(select(AuditEvent.action)).scalars().all()
    assert "contact.wrong_number_cleared" in actions
