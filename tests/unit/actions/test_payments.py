"""The payment link: after a pay-in-full discount was offered, the link states the discounted
amount (failure class 5 of issue 16); otherwise the balance."""

import asyncio

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import context
from actions.offers import ActionOfferDiscount
from actions.payments import ActionSendPaymentLink
from bot.conversations import verification
from bot.debts import policies


@pytest.fixture
def verified(app, db, conversation):
    context._app = app
    conversation.verified_at = verification.utcnow()
    policy = policies.get(db, "default")
    policy.discount_max_pct, policy.discount_valid_days = 10, 5
    db.commit()
    yield conversation
    context._app = None


def sent(action, conversation, intent):
    tracker = Tracker(
        str(conversation.id),
        {"verified": True},
        {"intent": {"name": intent}, "entities": [], "text": ""},
        [],
        False,
        None,
        {},
        "action_listen",
    )
    dispatcher = CollectingDispatcher()
    asyncio.run(action.run(dispatcher, tracker, {}))
    return [(m["custom"]["template"], m["custom"]["vars"]) for m in dispatcher.messages]


def test_the_link_after_a_discount_offer_states_the_discounted_amount(db, verified, travel):
    assert [t for t, _v in sent(ActionSendPaymentLink(), verified, "request_payment_link")] == [
        "payment.link"  # never offered: the balance
    ]
    [(offer, offered)] = sent(ActionOfferDiscount(), verified, "ask_discount")
    assert offer == "discount.offer"
    [(template, variables)] = sent(ActionSendPaymentLink(), verified, "affirm")
    assert template == "payment.link_discount"
    assert variables["amount"] == offered["amount"] == {"amount": "135000.00", "currency": "COP"}
    assert variables["balance"] == {"amount": "150000.00", "currency": "COP"}
    assert variables["pct"] == 10 and variables["until"] == offered["until"]
    assert variables["url"].startswith("https://bot.example.test/pay/")
    # Once the offer lapsed, the link is for the balance again.
    travel(days=6)
    verified.verified_at = verification.utcnow()
    db.commit()
    [(template, variables)] = sent(ActionSendPaymentLink(), verified, "request_payment_link")
    assert template == "payment.link" and variables["amount"]["amount"] == "150000.00"
