"""The pay page's other ways to pay (with the payment reference), its auto-debit section and the
debtor's documents, in the debtor's language."""

from sqlalchemy import select

from bot.models import Account, RailMethod
from bot.payments import documents, links, rails
from bot.payments import reconcile as payments


def account_of(db, external_id):
    return db.execute(select(Account).where(Account.external_id == external_id)).scalar_one()


def open_page(app, client, account, query=""):
    with app.app_context():
        path = links.payment_url(account).split("bot.example.test", 1)[1]
    response = client.get(path + query)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def publish(db, country, code, values):
    row = db.execute(
        select(RailMethod).where(RailMethod.country == country, RailMethod.code == code)
    ).scalar_one()
    rails.update(db, row, values, True, "admin:1")
    db.commit()


def test_pay_by_reference_with_the_accounts_reference(app, client, db, demo_debtors):
    camila = account_of(db, "DEMO-CO-001")
    assert "Otras formas de pagar" not in open_page(app, client, camila)
    publish(db, "CO", "nequi", {"phone": "3001112233", "holder_name": "Cobranzas SAS"})
    text = open_page(app, client, camila)
    assert "Otras formas de pagar" in text and "Número Nequi" in text and "3001112233" in text
    assert f"Referencia de pago: {rails.payment_reference(camila)}" in text
    assert "Dónde escribir la referencia: el mensaje del envío." in text
    assert "foto o el PDF del comprobante" in text


def test_methods_inside_the_providers_checkout_are_named(app, client, db, demo_debtors):
    app.config["PAYMENT_PROVIDER"] = "mercadopago"
    text = open_page(app, client, account_of(db, "DEMO-CO-001"))
    assert "Con el botón de pago también puedes usar: PSE (débito desde tu banco), Efecty" in text


def test_english_page_and_no_rails_for_other_countries(app, client, db, demo_debtors):
    publish(db, "CO", "nequi", {"phone": "3001112233", "holder_name": "Cobranzas SAS"})
    text = open_page(app, client, account_of(db, "DEMO-US-001"))
    assert 'lang="en"' in text and "Other ways to pay" not in text and "Nequi" not in text


def test_documents_are_listed_even_once_settled(app, client, db, conversation):
    account = account_of(db, "DEMO-CO-001")
    payment = payments.apply_payment(db, account, account.balance_minor, "sandbox", "cs_1")
    documents.issue_after_payment(db, payment)
    db.commit()
    text = open_page(app, client, account)
    assert "Tu cuenta está al día" in text and "Tus documentos" in text
    assert (
        f"Recibo de pago RC-{payment.id:06d}" in text and f"Paz y salvo PS-{account.id:06d}" in text
    )
    assert text.count('href="https://bot.example.test/documents/') == 2
    # A settled account offers no way to pay.
    assert "Otras formas de pagar" not in text and "Pago automático" not in text


def test_the_return_from_the_card_page_says_it_is_being_confirmed(app, client, db, demo_debtors):
    text = open_page(app, client, account_of(db, "DEMO-CO-001"), "?autodebit=1")
    assert "estamos confirmando tu tarjeta" in text
