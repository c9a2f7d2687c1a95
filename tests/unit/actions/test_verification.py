import asyncio

import pytest
from rasa_sdk.events import FollowupAction
from rasa_sdk.executor import CollectingDispatcher

from actions.verification import ActionVerificationDone, ValidateVerificationForm
from tests.unit.actions.helpers import run, sent, tracker


def extract(conversation, text, intent="inform", requested=None):
    slots = {"requested_slot": requested} if requested else {}
    t = tracker(conversation, slots, intent=intent, text=text)
    return asyncio.run(ValidateVerificationForm().extract_id_digits(CollectingDispatcher(), t, {}))


@pytest.mark.parametrize(
    ("text", "intent", "taken"),
    [
        ("4821", "inform", True),  # typed before the bot asked
        ("hola, mi cédula termina en 4821, cuánto debo", "ask_balance", True),
        ("my id ends in 5512, how much do I owe?", "ask_balance", True),
        ("te pago el 20 de enero", "promise_to_pay", False),  # a date is not an ID answer
        ("puedo pagar 150 mil", "promise_to_pay", False),
        ("cambié de número, anoten este 300-123-4567", "change_number", False),
    ],
)
def test_id_digits_before_the_question_count(conversation, text, intent, taken):
    assert extract(conversation, text, intent) == ({"id_digits": text} if taken else {})


@pytest.mark.parametrize(
    ("text", "intent", "taken"),
    [
        ("uy me equivoqué, es 4812", "wrong_number", True),  # digits: an attempt, not a wrong no.
        ("numero equivocado", "wrong_number", False),
        ("llámenme al 300 123 4567", "request_callback", False),  # never a phone number's end
        ("soy la hermana, ella termina en 4821", "third_party", True),
    ],
)
def test_digits_inside_verification_are_an_answer_whatever_the_intent(
    conversation, text, intent, taken
):
    result = extract(conversation, text, intent, requested="id_digits")
    assert result == ({"id_digits": text} if taken else {})


@pytest.mark.parametrize(
    ("pending", "followup"),
    [
        ("partial_payment", "partial_form"),
        ("promise_to_pay", "promise_form"),
        ("request_installments", "plan_form"),
        ("already_paid", "payment_claim_form"),
    ],
)
def test_verification_continues_a_pending_form_in_the_same_turn(conversation, pending, followup):
    slots = {"id_digits": "verified", "pending_request": pending}
    _dispatcher, events = run(ActionVerificationDone(), tracker(conversation, slots))
    assert FollowupAction(followup) in events


@pytest.mark.parametrize(
    ("pending", "templates"),
    [
        ("ask_amount_breakdown", ["balance.*", "balance.breakdown"]),
        ("request_settlement", ["discount.none"]),
        ("ask_balance", ["balance.*"]),
        (None, ["help.menu"]),
    ],
)
def test_verification_answers_the_pending_request(db, conversation, pending, templates):
    from bot.clock import utcnow

    conversation.verified_at = utcnow()
    db.commit()
    slots = {"id_digits": "verified", "pending_request": pending}
    dispatcher, events = run(ActionVerificationDone(), tracker(conversation, slots))
    # "balance.*": overdue or current, by when the suite runs (TEST_NOW) against the due date.
    said = [t for t, _v in sent(dispatcher)]
    assert len(said) == len(templates)
    for template, expected in zip(said, templates, strict=True):
        if expected == "balance.*":
            assert template in ("balance.overdue", "balance.current")
        else:
            assert template == expected
    assert events[-1] == FollowupAction("action_listen")
