"""The balance explained (why it grew, how interest is charged) and a settlement the bot
proposes where no pay-in-full discount applies."""

import asyncio

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions import context
from actions.balance import ActionTellBalance
from actions.offers import ActionOfferDiscount
from bot import clock
from bot.conversations import verification
from bot.debts import policies
from bot.ledger import entries
from bot.models import Account, AuditEvent


@pytest.fixture
def verified(app, db, conversation):
    context._app = app
    conversation.verified_at = verification.utcnow()
    db.commit()
    yield conversation
    context._app = None


def tracker(conversation, intent="ask_balance"):
    return Tracker(
        str(conversation.id),
        {"verified": True},
        {"intent": {"name": intent}, "entities": [], "text": ""},
        [],
        False,
        None,
        {},
        "action_listen",
    )


def sent(action, conversation, intent="ask_balance"):
    dispatcher = CollectingDispatcher()
    asyncio.run(action.run(dispatcher, tracker(conversation, intent), {}))
    return [(m["custom"]["template"], m["custom"]["vars"]) for m in dispatcher.messages]


def camila(db):
    return db.execute(select(Account).where(Account.external_id == "DEMO-CO-001")).scalar_one()


def test_a_balance_that_grew_comes_with_its_breakdown(db, verified):
    assert [t for t, _ in sent(ActionTellBalance(), verified)][-1].startswith("balance.")
    assert "balance.breakdown" not in [t for t, _ in sent(ActionTellBalance(), verified)]
    account = camila(db)
    policies.get(db, "default").interest_rate_bps = 2400
    today = clock.today_for(account.debtor)
    entries.post(db, account, "interest", {"interest": 98_600}, today, "test", key="i")
    db.commit()
    messages = sent(ActionTellBalance(), verified)
    templates = [t for t, _ in messages]
    assert templates[1:] == ["balance.breakdown", "balance.interest_terms"]
    breakdown = messages[1][1]
    assert breakdown["interest"] == {"amount": "986.00", "currency": "COP"}
    assert breakdown["balance"] == {"amount": "150986.00", "currency": "COP"}
    assert messages[2][1]["annual_rate"] == "24"


def test_asking_about_interest_explains_even_an_unchanged_balance(db, verified):
    # "¿Cuánto me cobran de intereses?" / "¿por qué subió?" is the NLU's ask_amount_breakdown.
    templates = [t for t, _ in sent(ActionTellBalance(), verified, intent="ask_amount_breakdown")]
    assert "balance.breakdown" in templates


def test_the_bot_proposes_a_settlement_where_no_discount_applies(db, verified):
    policy = policies.get(db, "default")
    policy.settlement_offer_pct, policy.settlement_valid_days = 60, 5
    db.commit()
    [(template, variables)] = sent(ActionOfferDiscount(), verified, intent="ask_discount")
    assert template == "settlement.offer" and variables["pct"] == 60
    assert variables["amount"] == {"amount": "90000.00", "currency": "COP"}
    assert variables["forgiven"] == {"amount": "60000.00", "currency": "COP"}
    assert variables["url"].startswith("https://bot.example.test/pay/")
    assert db.execute(select(AuditEvent).where(AuditEvent.action == "settlement.offered")).first()
