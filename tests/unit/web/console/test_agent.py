"""The agent console's routes walked as agent A (who holds the conversation), agent B,
an admin and a stranger; and money decisions clicked several times at once."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot import clock, users
from bot.clock import utcnow
from bot.conversations import handover
from bot.conversations.escalation import mark_for_agent
from bot.models import (
    AuditEvent,
    Conversation,
    ConversationNote,
    Dispute,
    Message,
    Payment,
    PaymentClaim,
    PaymentPlan,
    Promise,
)
from tests.console import PASSWORD, form_token, https_client, sign_in
from tests.unit.web.test_pay import at_once


@pytest.fixture
def people(db):
    made = {}
    for name, role in (("ana", "agent"), ("beto", "agent"), ("boss", "admin")):
        made[name], _ = users.create_user(db, f"{name}@example.com", PASSWORD, role)
    db.commit()
    return made


@pytest.fixture
def held(db, conversation, people):
    """Camila's conversation, claimed by Ana, with an open claim and an open dispute."""
    conversation.last_inbound_at = utcnow()
    mark_for_agent(db, conversation, "already_paid")
    account = conversation.debtor.accounts[0]
    claim = PaymentClaim(
        account=account, claimed_amount_minor=5_000_000, currency=account.currency, words="pagué"
    )
    dispute = Dispute(account=account, conversation_id=conversation.id, words="no es mía")
    db.add_all([claim, dispute])
    account.status = "claim_review"
    db.commit()
    assert handover.claim(db, conversation.id, people["ana"])
    db.commit()
    return conversation, claim, dispute


def client_for(app, name):
    client = https_client(app)
    if name is not None:
        assert sign_in(client, f"{name}@example.com").status_code == 302
    # A stranger holds a real CSRF token too (from the sign-in page): it must not be enough.
    client.token_page = "/console/" if name else "/console/login"
    return client


def decided_receipt(conversation):
    from bot.db import session
    from bot.models import PaymentReceipt

    s = session()
    message = Message(conversation_id=conversation.id, direction="in", status="processed")
    s.add(message)
    s.flush()
    receipt = PaymentReceipt(
        message_id=message.id,
        media_index=0,
        conversation_id=conversation.id,
        debtor_id=conversation.debtor_id,
        status="rejected",
        reason="not a payment",
    )
    s.add(receipt)
    s.commit()
    return receipt.id


# Blueprints only an admin may use.
ADMIN_PAGES = (
    "admin.",
    "rails_admin.",
    "compliance.",
    "email_admin.",
    "results.",
    "experiments.",
    "dialogue_admin.",
)


def console_routes(app, held):
    """Every console URL and method, with valid arguments and a form an agent would post."""
    conversation, claim, dispute = held
    account = conversation.debtor.accounts[0]
    values = {
        "conversation_id": conversation.id,
        "claim_id": claim.id,
        "dispute_id": dispute.id,
        # Receipts are their own queue (any agent verifies them): one already decided, so the
        # walk exercises who may reach the routes without moving money.
        "receipt_id": decided_receipt(conversation),
        "method_id": 1,
        "override_id": 1,
        "request_id": 1,  # a contact request that does not exist: refused with a message
        "review_id": 1,
        "decision": None,  # per endpoint below
        "key": "greet",
        "locale": "es",
        "version": 1,
        "name": "funnel",  # a results section's CSV
        "experiment_id": 1,
    }
    form = {
        "text": "hola",
        "account_id": str(account.id),
        "date": (clock.today_for(conversation.debtor) + timedelta(days=3)).isoformat(),
        "installments": "3",
        "key": "agent.follow_up",
        "reason": "covering a shift",
    }
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/console") or rule.endpoint == "auth.logout":
            continue
        args = {name: values[name] for name in rule.arguments}
        if "decision" in args:
            args["decision"] = {
                "agent.claim_decision": "confirm",
                "contacts.contact_request_decision": "dismiss",
            }.get(rule.endpoint, "uphold")
        with app.test_request_context():
            from flask import url_for

            url = url_for(rule.endpoint, **args)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((rule.endpoint, method, url))
    return routes, form


def request(client, method, url, form):
    if method == "GET":
        return client.get(url)
    token = form_token(client, client.token_page)
    return client.post(url, data={**form, "csrf_token": token})


def state(db, held):
    """What an agent's action would change."""
    conversation, claim, dispute = held
    db.expire_all()
    conv = db.get(Conversation, conversation.id)
    return {
        "holder": (conv.state, conv.agent_id),
        "notes": db.execute(select(func.count(ConversationNote.id))).scalar(),
        "outbound": db.execute(
            select(func.count(Message.id)).where(Message.direction == "out")
        ).scalar(),
        "promises": db.execute(select(func.count(Promise.id))).scalar(),
        "plans": db.execute(select(func.count(PaymentPlan.id))).scalar(),
        "payments": db.execute(select(func.count(Payment.id))).scalar(),
        "claim": db.get(PaymentClaim, claim.id).status,
        "dispute": db.get(Dispute, dispute.id).status,
    }


def test_every_console_route_as_a_stranger_agent_b_agent_a_and_admin(app, db, people, held):
    routes, form = console_routes(app, held)
    assert len(routes) >= 30
    before = state(db, held)

    stranger = client_for(app, None)
    for endpoint, method, url in routes:
        response = request(stranger, method, url, form)
        if endpoint == "auth.login":
            assert response.status_code in (200, 401), (method, url)
        else:  # sent to sign in, or refused: never a page, never an action
            assert response.status_code in (302, 400, 401), (method, url, response.status_code)
    assert state(db, held) == before

    beto = client_for(app, "beto")
    for endpoint, method, url in routes:
        response = request(beto, method, url, form)
        assert response.status_code < 500, (method, url)
        if endpoint.startswith(ADMIN_PAGES) or endpoint == "agent.take_over":
            assert response.status_code == 403, (method, url)
        elif method == "POST" and endpoint.startswith("agent."):  # refused with a message
            assert response.status_code == 303, (method, url)
    # Agent B changed nothing on the conversation Agent A holds (notes included).
    assert state(db, held) == before
    assert not db.execute(
        select(AuditEvent)
        .where(AuditEvent.actor == f"agent:{people['beto'].id}")
        .where(AuditEvent.action != "user.signed_in")
    ).first()

    ana = client_for(app, "ana")
    for endpoint, method, url in routes:
        response = request(ana, method, url, form)
        assert response.status_code < 500, (method, url)
        admin_only = endpoint.startswith(ADMIN_PAGES) or endpoint == "agent.take_over"
        assert (response.status_code == 403) == admin_only, (method, url)
    after = state(db, held)
    assert after["notes"] == before["notes"] + 1 and after["claim"] == "confirmed"

    boss = client_for(app, "boss")
    for _endpoint, method, url in routes:
        response = request(boss, method, url, form)
        assert response.status_code < 500 and response.status_code != 403, (method, url)


def test_four_simultaneous_claim_confirmations_apply_the_money_once(app, db, people, held):
    conversation, claim, _ = held
    clients = [client_for(app, "ana") for _ in range(4)]
    tokens = [form_token(c, "/console/") for c in clients]
    url = f"/console/conversations/{conversation.id}/claims/{claim.id}/confirm"
    responses = at_once(4, lambda i: clients[i].post(url, data={"csrf_token": tokens[i]}))
    assert [r.status_code for r in responses] == [303] * 4
    db.expire_all()
    assert db.get(PaymentClaim, claim.id).status == "confirmed"
    assert db.execute(select(func.count(Payment.id))).scalar() == 1
    account = db.get(Conversation, conversation.id).debtor.accounts[0]
    assert account.balance_minor == 15_000_000 - 5_000_000


def test_a_double_click_on_a_dispute_decides_it_once(app, db, people, held):
    conversation, _, dispute = held
    clients = [client_for(app, "ana") for _ in range(2)]
    tokens = [form_token(c, "/console/") for c in clients]
    url = f"/console/conversations/{conversation.id}/disputes/{dispute.id}/reject"
    responses = at_once(2, lambda i: clients[i].post(url, data={"csrf_token": tokens[i]}))
    assert [r.status_code for r in responses] == [303, 303]
    rejected = db.execute(
        select(func.count(AuditEvent.id)).where(AuditEvent.action == "dispute.rejected")
    ).scalar()
    assert rejected == 1
