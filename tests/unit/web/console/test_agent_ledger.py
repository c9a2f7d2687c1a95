"""The agent console's ledger parts: the breakdown per debt, settlements and partial promises
through the same services and policies as the bot."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot import clock, users
from bot.clock import utcnow
from bot.conversations import handover
from bot.conversations.escalation import mark_for_agent
from bot.debts import policies
from bot.ledger import entries
from bot.models import Promise, Settlement
from tests.console import PASSWORD, form_token, https_client, sign_in


@pytest.fixture
def held(db, conversation):
    ana, _ = users.create_user(db, "ana@example.com", PASSWORD, "agent")
    db.commit()
    conversation.last_inbound_at = utcnow()
    mark_for_agent(db, conversation, "request_agent")
    db.commit()
    assert handover.claim(db, conversation.id, ana)
    db.commit()
    return conversation


def test_the_agent_sees_the_breakdown_and_agrees_a_settlement_inside_the_policy(app, db, held):
    account = held.debtor.accounts[0]
    today = clock.today_for(held.debtor)
    entries.post(db, account, "interest", {"interest": 250_000}, today, "test", key="i")
    policy = policies.get(db, "default")
    policy.settlement_offer_pct, policy.settlement_min_pct = 80, 60
    policy.settlement_valid_days = 10
    db.commit()
    client = https_client(app)
    sign_in(client, "ana@example.com")
    path = f"/console/conversations/{held.id}"
    page = client.get(path).get_data(as_text=True)
    assert "interest $2.500" in page and "Agree settlement" in page
    token = form_token(client, path)
    pay_by = (today + timedelta(days=5)).isoformat()
    low = client.post(
        f"{path}/settlement",
        data={"csrf_token": token, "account_id": account.id, "amount": "50.000", "pay_by": pay_by},
    )
    assert low.status_code == 303
    assert "Only an admin may override" in client.get(path).get_data(as_text=True)
    client.post(
        f"{path}/settlement",
        data={"csrf_token": token, "account_id": account.id, "amount": "100000", "pay_by": pay_by},
    )
    row = db.execute(select(Settlement)).scalar_one()
    assert (row.amount_minor, row.policy_id) == (10_000_000, policy.id)
    assert "Settlement active" in client.get(path).get_data(as_text=True)
    bad = client.post(
        f"{path}/settlement",
        data={"csrf_token": token, "account_id": account.id, "amount": "lots", "pay_by": pay_by},
    )
    assert bad.status_code == 303 and "give an amount" in client.get(path).get_data(as_text=True)


def test_the_agent_records_a_promise_for_part_of_the_balance(app, db, held):
    account = held.debtor.accounts[0]
    client = https_client(app)
    sign_in(client, "ana@example.com")
    path = f"/console/conversations/{held.id}"
    token = form_token(client, path)
    day = clock.today_for(held.debtor).isoformat()
    client.post(
        f"{path}/promise",
        data={"csrf_token": token, "account_id": account.id, "date": day, "amount": "30 mil"},
    )
    assert db.execute(select(Promise)).scalar_one().amount_minor == 3_000_000
