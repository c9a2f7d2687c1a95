"""Admins choose each portfolio's voice and label what the bot was unsure of."""

import pytest
import yaml
from sqlalchemy import select

from bot.conversations import learning
from bot.models import AuditEvent, Portfolio
from bot.templates import store as templates
from bot.templates import voice
from tests.unit.web.console.test_admin import sign_in


@pytest.fixture
def admin_client(https, db):
    https.token = sign_in(https, db, "boss@example.com", "admin")
    return https


def test_a_portfolio_speaks_usted(admin_client, db, conversation):
    form = {
        "csrf_token": admin_client.token,
        "name": "demo",
        "register": "usted",
        "creditor_name": "Financiera Andina",
    }
    assert admin_client.post("/console/admin/portfolios", data=form).status_code == 303
    db.expire_all()
    assert db.get(Portfolio, "demo").register == "usted"
    assert voice.register_for(db, conversation.debtor) == "usted"
    assert voice.creditor_name(db, conversation.debtor) == "Financiera Andina"
    text, _ = templates.render(db, "verify.ask", "es-CO", register="usted")
    assert "escríbame" in text
    page = admin_client.get("/console/admin/portfolios").get_data(as_text=True)
    assert "Financiera Andina" in page
    assert db.execute(
        select(AuditEvent).where(AuditEvent.action == "portfolio.voice_changed")
    ).scalar_one()
    bad = dict(form, register="vosotros")
    assert admin_client.post("/console/admin/portfolios", data=bad).status_code == 303
    db.expire_all()
    assert db.get(Portfolio, "demo").register == "usted"


def test_agents_cannot_reach_the_admin_pages(https, db):
    https.token = sign_in(https, db, "ana@example.com", "agent")
    assert https.get("/console/admin/portfolios").status_code == 403
    assert https.get("/console/admin/learning").status_code == 403


def test_label_then_export(admin_client, db):
    row = learning.record(db, 9, "te cancelo el 20 de enero", "es", "inform", 0.35, True)
    db.commit()
    page = admin_client.get("/console/admin/learning").get_data(as_text=True)
    assert "te cancelo el 20 de enero" in page and "fell back" in page
    form = {"csrf_token": admin_client.token, "intent": "promise_to_pay"}
    assert admin_client.post(f"/console/admin/learning/{row.id}", data=form).status_code == 303
    bad = {"csrf_token": admin_client.token, "intent": "nonsense"}
    assert admin_client.post(f"/console/admin/learning/{row.id}", data=bad).status_code == 303
    exported = admin_client.get("/console/admin/learning/export.yml?language=es")
    assert exported.headers["Content-Disposition"].endswith('labelled_es.yml"')
    data = yaml.safe_load(exported.get_data(as_text=True))
    assert data["nlu"] == [
        {"intent": "promise_to_pay", "examples": "- te cancelo el 20 de enero\n"}
    ]
