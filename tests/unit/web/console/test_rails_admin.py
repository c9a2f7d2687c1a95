"""Admin > Payment methods: per country, edited field by field with check digits, audited, shown
to debtors only once enabled and complete."""

import pytest
from sqlalchemy import select

from bot.models import Account, RailMethod
from bot.payments import links
from tests.unit.web.console.test_admin import csrf, sign_in

BASE = "/console/admin/payment-methods"


@pytest.fixture
def admin_client(https, db):
    https.token = sign_in(https, db, "boss@example.com", "admin")
    return https


def method(db, country, code):
    return db.execute(
        select(RailMethod).where(RailMethod.country == country, RailMethod.code == code)
    ).scalar_one()


def test_agents_cannot_edit_payment_methods(https, db):
    sign_in(https, db, "ana@example.com", "agent")
    assert https.get(f"{BASE}/").status_code == 403


def test_the_list_per_country(admin_client, db):
    page = admin_client.get(f"{BASE}/").get_data(as_text=True)
    for country in ("CO", "MX", "CL", "PE", "AR"):
        assert f'id="country-{country}"' in page
    assert "Nequi" in page and "through mercadopago" in page
    assert "Payment methods" in admin_client.get("/console/admin/").get_data(as_text=True)


def test_a_typo_is_refused_then_a_good_edit_reaches_the_pay_page(
    app, admin_client, db, demo_debtors
):
    spei = method(db, "MX", "spei")
    path = f"{BASE}/{spei.id}"
    form = {
        "clabe": "032180000118359718",
        "bank": "BBVA México",
        "holder_name": "Cobranzas Ejemplo SA de CV",
        "enabled": "on",
        "csrf_token": csrf(admin_client, path),
    }
    refused = admin_client.post(path, data=form)
    assert refused.status_code == 422
    assert "check digit" in refused.get_data(as_text=True)
    db.expire_all()
    assert method(db, "MX", "spei").values == {}
    saved = admin_client.post(path, data={**form, "clabe": "032180000118359719"})
    assert saved.status_code == 303
    history = admin_client.get(path).get_data(as_text=True)
    assert "clabe: — → 032180000118359719" in history and "enabled: False → True" in history
    jorge = db.execute(select(Account).where(Account.external_id == "DEMO-MX-001")).scalar_one()
    with app.app_context():
        pay_page = admin_client.get(links.payment_url(jorge).split("bot.example.test", 1)[1])
    text = pay_page.get_data(as_text=True)
    assert "Transferencia SPEI" in text and "032180000118359719" in text
    assert "Referencia de pago: " in text


def test_an_admin_adds_a_method_of_their_own(admin_client, db):
    token = csrf(admin_client, f"{BASE}/")
    added = admin_client.post(
        f"{BASE}/new", data={"country": "US", "name": "Zelle", "csrf_token": token}
    )
    assert added.status_code == 303
    row = db.execute(select(RailMethod).where(RailMethod.country == "US")).scalar_one()
    assert added.location.endswith(f"{BASE}/{row.id}")
    bad = admin_client.post(f"{BASE}/new", data={"country": "USA", "name": "", "csrf_token": token})
    assert bad.status_code == 303
    assert "two letters" in admin_client.get(f"{BASE}/").get_data(as_text=True)
