import asyncio

from rasa_sdk.events import FollowupAction
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.partial import ActionAskPartialAmount, ActionPartialPayment, ValidatePartialForm
from bot.clock import utcnow
from bot.debts import policies
from bot.models import Account, AuditEvent, Conversation, Promise
from bot.payments import links
from tests.unit.actions.helpers import run, sent, tracker


def test_the_amount_named_with_the_request_is_read(db, conversation):
    validator = ValidatePartialForm()
    t = tracker(conversation, intent="partial_payment", text="quiero abonar 50 mil")
    assert asyncio.run(validator.extract_partial_amount(CollectingDispatcher(), t, {})) == {
        "partial_amount": "5000000"
    }
    # The amount a choice carries ("Abonar $98.000"), as an entity of its payload.
    t = tracker(
        conversation,
        intent="partial_payment",
        text='/partial_payment{"amount": "98 mil"}',
        entities=[{"entity": "amount", "value": "98 mil"}],
    )
    assert asyncio.run(validator.extract_partial_amount(CollectingDispatcher(), t, {})) == {
        "partial_amount": "9800000"
    }
    t = tracker(conversation, intent="partial_payment", text="quiero abonar algo")
    assert asyncio.run(validator.extract_partial_amount(CollectingDispatcher(), t, {})) == {}


def test_an_unreadable_or_too_small_amount_is_asked_again(db, conversation):
    policies.get(db, "default").min_partial_minor = 2_000_000  # the policy's minimum: 20 mil
    db.commit()
    validator = ValidatePartialForm()
    t = tracker(conversation, {"requested_slot": "partial_amount"})
    dispatcher = CollectingDispatcher()
    assert asyncio.run(validator.validate_partial_amount("mmm", dispatcher, t, {})) == {
        "partial_amount": None
    }
    assert sent(dispatcher) == [("partial.amount_unclear", {})]
    dispatcher = CollectingDispatcher()
    assert asyncio.run(validator.validate_partial_amount("10 mil", dispatcher, t, {})) == {
        "partial_amount": None
    }
    [(template, variables)] = sent(dispatcher)
    assert template == "partial.ask_amount"
    assert variables["minimum"] == {"amount": "20000.00", "currency": "COP"}
    assert asyncio.run(
        validator.validate_partial_amount("20 mil", CollectingDispatcher(), t, {})
    ) == {"partial_amount": "2000000"}


def test_the_question_names_the_minimum(db, conversation):
    dispatcher, _events = run(ActionAskPartialAmount(), tracker(conversation))
    [(template, variables)] = sent(dispatcher)
    assert template == "partial.ask_amount"
    assert variables["balance"] == {"amount": "150000.00", "currency": "COP"}


def test_a_partial_payment_gets_its_link_recorded_as_a_promise_of_that_part(db, conversation):
    conversation.verified_at = utcnow()
    db.commit()
    t = tracker(conversation, {"partial_amount": "5000000"})
    dispatcher, events = run(ActionPartialPayment(), t)
    [(template, variables)] = sent(dispatcher)
    assert template == "partial.link"
    assert variables["amount"] == {"amount": "50000.00", "currency": "COP"}
    assert variables["remaining"] == {"amount": "100000.00", "currency": "COP"}
    token = variables["url"].rsplit("/", 1)[1]
    assert links.amount_of(token) == 5_000_000
    assert FollowupAction("action_listen") in events
    db.expire_all()
    promise = db.execute(select(Promise)).scalar_one()
    assert (promise.amount_minor, promise.status) == (5_000_000, "pending")
    assert not db.get(Conversation, conversation.id).needs_agent  # no person needed
    event = db.execute(
        select(AuditEvent).where(AuditEvent.action == "partial_payment.link_sent")
    ).scalar_one()
    assert event.data["amount_minor"] == 5_000_000 and event.data["promise_id"] == promise.id


def test_a_disputed_debt_still_takes_the_part_the_debtor_recognises(db, conversation):
    for account in db.execute(select(Account)).scalars():
        account.status = "disputed"
    db.commit()
    dispatcher, _events = run(
        ActionPartialPayment(), tracker(conversation, {"partial_amount": "2000000"})
    )
    [(template, variables)] = sent(dispatcher)
    assert template == "partial.link" and variables["amount"]["amount"] == "20000.00"
    event = db.execute(
        select(AuditEvent).where(AuditEvent.action == "partial_payment.link_sent")
    ).scalar_one()
    assert event.data["under_review"] is True
