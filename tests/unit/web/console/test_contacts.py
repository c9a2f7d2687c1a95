"""Agents confirm a new number or a call-back the debtor asked for, and undo a wrong-number mark;
only while holding the conversation, with CSRF, audited."""

import pytest
from sqlalchemy import select

from bot import clock
from bot.conversations import contact_requests, handover
from bot.models import AuditEvent, User
from tests.unit.web.console.test_admin import sign_in


@pytest.fixture
def agent_client(https, db):
    https.token = sign_in(https, db, "ana@example.com", "agent")
    return https


def hold(db, conversation):
    agent = db.execute(select(User)).scalar_one()
    assert handover.claim(db, conversation.id, agent)
    db.commit()


def test_an_agent_confirms_a_new_number(agent_client, db, conversation):
    row = contact_requests.request_new_number(db, conversation, "+573009998877", "anoten este")
    db.commit()
    path = f"/console/conversations/{conversation.id}/contact-requests/{row.id}/confirm"
    page = agent_client.get(f"/console/conversations/{conversation.id}").get_data(as_text=True)
    assert "New number" in page and "+573009998877" in page
    refused = agent_client.post(path, data={"csrf_token": agent_client.token})
    assert refused.status_code == 303  # not held yet: told, nothing changes
    db.expire_all()
    assert conversation.debtor.phone == "+573001234567"
    hold(db, conversation)
    assert agent_client.post(path, data={}).status_code == 400  # no CSRF token
    assert agent_client.post(path, data={"csrf_token": agent_client.token}).status_code == 303
    db.expire_all()
    assert conversation.debtor.phone == "+573009998877"


def test_an_agent_undoes_a_wrong_number_mark(agent_client, db, conversation):
    conversation.debtor.wrong_number_at = clock.utcnow()
    db.commit()
    hold(db, conversation)
    page = agent_client.get(f"/console/conversations/{conversation.id}").get_data(as_text=True)
    assert 'id="undo-wrong-number"' in page
    path = f"/console/conversations/{conversation.id}/wrong-number/undo"
    assert agent_client.post(path, data={"csrf_token": agent_client.token}).status_code == 303
    db.expire_all()
    assert conversation.debtor.wrong_number_at is None
    event = db.execute(
        select(AuditEvent).where(AuditEvent.action == "contact.wrong_number_cleared")
    ).scalar_one()
    agent = db.execute(select(User)).scalar_one()
    assert event.actor == f"agent:{agent.id}"
    assert event.data["reason"] == "agent"
