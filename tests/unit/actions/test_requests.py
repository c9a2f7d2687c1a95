import asyncio

from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.requests import (
    ActionAmountWhatFor,
    ActionRecordNewNumber,
    ActionRequestCallback,
    ActionThirdParty,
    ActionYesNo,
    ValidateNewNumberForm,
)
from bot.clock import utcnow
from bot.models import ContactRequest, Conversation
from tests.unit.actions.helpers import after, choices, run, sent, tracker

CONFIRM = {
    "template": "wrong_number.confirm",
    "buttons": [
        {"title": "Sí", "payload": "/wrong_number", "on": "affirm"},
        {"title": "No", "payload": "/deny", "on": "deny"},
    ],
}


def test_a_relative_hears_nothing_about_a_debt_and_the_number_stays(db, conversation):
    dispatcher, events = run(
        ActionThirdParty(), tracker(conversation, intent="third_party", text="soy la mamá")
    )
    assert sent(dispatcher) == [("third_party.reply", {})]
    assert SlotSet("pending_request", None) in events
    db.expire_all()
    assert db.get(Conversation, conversation.id).debtor.wrong_number_at is None


def test_a_yes_to_the_wrong_number_question_marks_it(db, conversation):
    t = tracker(conversation, intent="affirm", text="si", events=after(CONFIRM, "affirm"))
    dispatcher, events = run(ActionYesNo(), t)
    assert sent(dispatcher) == [("wrong_number.sorry", {})]
    assert FollowupAction("action_listen") in events
    db.expire_all()
    assert db.get(Conversation, conversation.id).debtor.wrong_number_at is not None


def test_a_no_to_the_wrong_number_question_goes_on_with_verification(db, conversation):
    t = tracker(
        conversation,
        {"verified": False},
        intent="deny",
        text="no, si es mi numero",
        events=after(CONFIRM, "deny"),
    )
    dispatcher, events = run(ActionYesNo(), t)
    assert sent(dispatcher) == [("wrong_number.not_wrong", {})]
    assert events == [FollowupAction("verification_form")]
    db.expire_all()
    assert db.get(Conversation, conversation.id).debtor.wrong_number_at is None


def test_a_yes_to_nothing_gets_the_menu(conversation):
    dispatcher, events = run(ActionYesNo(), tracker(conversation, intent="affirm", text="si"))
    assert sent(dispatcher)[0][0] == "help.menu"
    assert choices(dispatcher) == [
        "/ask_balance",
        "/request_payment_link",
        "/request_installments",
        "/request_deferral",
        "/request_agent",
    ]


def test_a_yes_to_an_offered_link_sends_it(db, conversation):
    conversation.verified_at = utcnow()
    db.commit()
    offer = {
        "template": "discount.none",
        "buttons": [{"payload": "/request_payment_link", "on": "affirm"}],
    }
    t = tracker(conversation, intent="affirm", text="dale", events=after(offer))
    dispatcher, _events = run(ActionYesNo(), t)
    [(template, variables)] = sent(dispatcher)
    assert template == "payment.link" and "/pay/" in variables["url"]


def test_a_call_back_keeps_the_number_and_the_words_for_an_agent(db, conversation):
    text = "llámenme al 300 765 4321 después de las 5"
    dispatcher, _events = run(ActionRequestCallback(), tracker(conversation, text=text))
    [(template, variables)] = sent(dispatcher)
    assert template in ("callback.recorded", "callback.recorded_later")
    assert variables["last_digits"] == "4321"
    db.expire_all()
    request = db.execute(select(ContactRequest)).scalar_one()
    assert request.kind == "callback" and request.phone == "+573007654321"
    assert request.words == text and request.status == "pending"
    assert db.get(Conversation, conversation.id).agent_reason == "request_callback"


def test_a_call_back_without_a_number_is_to_this_one(db, conversation):
    run(ActionRequestCallback(), tracker(conversation, text="me pueden llamar por favor"))
    db.expire_all()
    assert db.execute(select(ContactRequest)).scalar_one().phone == conversation.address


def test_the_new_number_is_read_from_the_request_or_asked(db, conversation):
    validator = ValidateNewNumberForm()
    t = tracker(
        conversation, intent="change_number", text="cambié de número, anoten este 3001112233"
    )
    assert asyncio.run(validator.extract_new_phone(CollectingDispatcher(), t, {})) == {
        "new_phone": "+573001112233"
    }
    t = tracker(conversation, intent="change_number", text="cambié de número")
    assert asyncio.run(validator.extract_new_phone(CollectingDispatcher(), t, {})) == {}
    dispatcher = CollectingDispatcher()
    t = tracker(conversation, {"requested_slot": "new_phone"}, text="no me acuerdo")
    assert asyncio.run(validator.validate_new_phone("no me acuerdo", dispatcher, t, {})) == {
        "new_phone": None
    }
    assert sent(dispatcher) == [("contact.number_unclear", {})]
    mexican = asyncio.run(
        validator.validate_new_phone("+52 1 55 1234 5678", CollectingDispatcher(), t, {})
    )
    assert mexican == {"new_phone": "+525512345678"}


def test_a_new_number_is_queued_for_an_agent_to_confirm(db, conversation):
    t = tracker(conversation, {"new_phone": "+573001112233", "pending_text": "anoten este"})
    dispatcher, events = run(ActionRecordNewNumber(), t)
    assert sent(dispatcher) == [("contact.new_number_recorded", {"last_digits": "2233"})]
    assert SlotSet("new_phone", None) in events and FollowupAction("action_listen") in events
    db.expire_all()
    request = db.execute(select(ContactRequest)).scalar_one()
    assert request.kind == "new_number" and request.phone == "+573001112233"
    conv = db.get(Conversation, conversation.id)
    assert conv.agent_reason == "change_number"
    assert conv.debtor.phone == "+573001234567"  # nothing changes until an agent confirms


def test_an_amount_outside_any_question_gets_choices_once(db, conversation):
    conversation.verified_at = utcnow()
    db.commit()
    dispatcher, events = run(ActionAmountWhatFor(), tracker(conversation, text="98 mil"))
    [(template, variables)] = sent(dispatcher)
    assert template == "amount.what_for"
    assert variables["amount"] == {"amount": "98000.00", "currency": "COP"}
    assert choices(dispatcher) == [
        '/partial_payment{"amount": "98 mil"}',
        '/already_paid{"amount": "98 mil"}',
        '/request_installments{"amount": "98 mil"}',
        "/request_agent",
    ]
    assert events == [FollowupAction("action_listen")]  # said once, never ten times
