import time

from sqlalchemy import select

from bot.models import Account
from bot.services import links


def account(db):
    return db.execute(select(Account).where(Account.external_id == "DEMO-CO-001")).scalar_one()


def test_a_link_opens_the_balance_page(app, client, db, demo_debtors):
    with app.app_context():
        url = links.payment_url(account(db))
    assert url.startswith("https://bot.example.test/pay/")
    token = url.rsplit("/", 1)[1]
    assert "Camila" not in token and "573001234567" not in token
    page = client.get(f"/pay/{token}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "$150.000" in text and "10 de noviembre de 2026" in text and 'lang="es"' in text


def test_a_tampered_link_reveals_nothing(app, client, db, demo_debtors):
    with app.app_context():
        token = links.payment_url(account(db)).rsplit("/", 1)[1]
    # Change the signed payload (the part before the first dot), not the signature's last
    # character, whose low bits base64 ignores.
    tampered = ("A" if token[0] != "A" else "B") + token[1:]
    page = client.get(f"/pay/{tampered}")
    assert page.status_code == 410
    text = page.get_data(as_text=True)
    assert "no es válido" in text and "150.000" not in text and "wa.me/14155238886" in text


def test_an_expired_link_reveals_nothing(app, client, db, demo_debtors):
    with app.app_context():
        token = links.payment_url(account(db)).rsplit("/", 1)[1]
    app.config["PAY_LINK_TTL_HOURS"] = 0
    time.sleep(1.1)
    page = client.get(f"/pay/{token}")
    assert page.status_code == 410 and "150.000" not in page.get_data(as_text=True)
