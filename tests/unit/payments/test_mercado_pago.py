"""Mercado Pago through the official SDK against the local fake: a Checkout Pro preference from
the pay page, signed notifications verified with the SDK's validator, the payment read back
from the API and reconciled once, whatever order and however often notifications arrive."""

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from bot.models import Account, Checkout, Payment, PaymentEvent
from bot.payments import links, providers
from bot.payments.mercado_pago import event_from_payment, to_minor, unit_price
from bot.testing.fake_mercadopago import FakeMercadoPago

TOKEN = "TEST-0000-access-token"
SECRET = "mp-webhook-secret"
WEBHOOK = "/pay/webhooks/mercadopago"


@pytest.fixture
def fake_mp(app):
    fake = FakeMercadoPago(TOKEN, SECRET).start()
    app.config.update(
        PAYMENT_PROVIDER="mercadopago",
        MERCADOPAGO_ACCESS_TOKEN=TOKEN,
        MERCADOPAGO_WEBHOOK_SECRET=SECRET,
        MERCADOPAGO_API_BASE=fake.url,
        AUTODEBIT_PROVIDER=None,  # what the configuration derives for Mercado Pago
    )
    app.extensions.pop("payment_providers", None)
    yield fake
    fake.stop()


@pytest.fixture
def camila(db, demo_debtors):
    """DEMO-CO-001: COP 150 000.00."""
    return db.execute(select(Account).where(Account.external_id == "DEMO-CO-001")).scalar_one()


def start_checkout(app, client, account, option="full"):
    with app.app_context():
        token = links.payment_url(account).rsplit("/", 1)[1]
    response = client.post(f"/pay/{token}/checkout", data={"option": option})
    assert response.status_code == 303, response.get_data(as_text=True)
    return token, response.location


def notify(client, fake, payment_id, **kwargs):
    params, body, headers = fake.notification(payment_id, **kwargs)
    return client.post(WEBHOOK, query_string=params, data=body, headers=headers)


def test_the_pay_page_opens_a_checkout_pro_preference(app, client, db, camila, fake_mp):
    _token, location = start_checkout(app, client, camila)
    [pref] = fake_mp.preferences.values()
    assert location == pref["init_point"]
    checkout = db.execute(select(Checkout)).scalar_one()
    assert (checkout.provider, checkout.provider_ref) == ("mercadopago", f"chk-{checkout.id}")
    [item] = pref["items"]
    assert item["unit_price"] == 150000 and item["currency_id"] == "COP"
    assert pref["external_reference"] == f"chk-{checkout.id}"
    assert pref["expires"] is True and pref["expiration_date_to"] and pref["date_of_expiration"]
    # A stable idempotency key: a retried create gets the same preference back.
    [(_method, _path, _body, headers)] = [r for r in fake_mp.requests if r[0] == "POST"]
    assert headers["X-Idempotency-Key"] == f"checkout-{checkout.id}"
    assert headers["Authorization"] == f"Bearer {TOKEN}"


def test_a_refused_preference_says_try_later(app, client, db, camila, fake_mp):
    fake_mp.failures.extend([400])
    with app.app_context():
        token = links.payment_url(camila).rsplit("/", 1)[1]
    response = client.post(f"/pay/{token}/checkout", data={"option": "full"})
    assert response.status_code == 503
    assert "No pudimos abrir el pago" in response.get_data(as_text=True)
    assert db.execute(select(Checkout)).first() is None


def test_an_approved_payment_is_read_back_and_applied_once(app, client, db, camila, fake_mp):
    start_checkout(app, client, camila)
    [pref_id] = fake_mp.preferences
    payment = fake_mp.pay(pref_id, status="approved")
    first = notify(client, fake_mp, payment["id"])
    assert first.status_code == 200 and first.get_json() == {"outcome": "applied"}
    # The same notification again, and the "created" one arriving late: nothing more.
    assert notify(client, fake_mp, payment["id"]).get_json() == {"outcome": "duplicate_event"}
    late = notify(client, fake_mp, payment["id"], action="payment.created")
    assert late.get_json() == {"outcome": "duplicate_event"}
    db.expire_all()
    paid = db.execute(select(Payment)).scalar_one()
    assert (paid.provider, paid.provider_ref, paid.amount_minor) == (
        "mercadopago",
        str(payment["id"]),
        15_000_000,
    )
    assert db.get(Account, camila.id).status == "paid"
    # Amounts and statuses came from the API (GET /v1/payments/{id}), never from the POST.
    reads = [r for r in fake_mp.requests if r[1] == f"/v1/payments/{payment['id']}"]
    assert len(reads) == 3


def test_a_cash_ticket_pending_then_approved(app, client, db, camila, fake_mp):
    start_checkout(app, client, camila)
    [pref_id] = fake_mp.preferences
    ticket = fake_mp.pay(pref_id, status="pending", payment_method_id="efecty")
    assert notify(client, fake_mp, ticket["id"]).get_json() == {"outcome": "pending"}
    assert db.execute(select(Checkout.status)).scalar_one() == "processing"
    fake_mp.set_status(ticket["id"], "approved")
    assert notify(client, fake_mp, ticket["id"]).get_json() == {"outcome": "applied"}


def test_a_declined_card_then_a_transfer_in_the_same_checkout(app, client, db, camila, fake_mp):
    start_checkout(app, client, camila)
    [pref_id] = fake_mp.preferences
    declined = fake_mp.pay(pref_id, status="rejected", payment_method_id="visa")
    assert notify(client, fake_mp, declined["id"]).get_json() == {"outcome": "ignored"}
    assert db.execute(select(Checkout.status)).scalar_one() == "open"
    transfer = fake_mp.pay(pref_id, status="approved")
    assert notify(client, fake_mp, transfer["id"]).get_json() == {"outcome": "applied"}


def test_two_approved_payments_in_one_checkout_are_both_kept(app, client, db, camila, fake_mp):
    """Rare, but money received is never lost: the second one is a surplus to refund."""
    start_checkout(app, client, camila)
    [pref_id] = fake_mp.preferences
    first = fake_mp.pay(pref_id)
    second = fake_mp.pay(pref_id)
    assert notify(client, fake_mp, second["id"]).get_json() == {"outcome": "applied"}
    assert notify(client, fake_mp, first["id"]).get_json() == {"outcome": "applied"}
    rows = db.execute(select(Payment).order_by(Payment.id)).scalars().all()
    assert [p.provider_ref for p in rows] == [str(second["id"]), str(first["id"])]
    assert rows[1].surplus_minor == 15_000_000


def test_a_forged_or_replayed_notification(app, client, db, camila, fake_mp):
    start_checkout(app, client, camila)
    [pref_id] = fake_mp.preferences
    payment = fake_mp.pay(pref_id)
    forged = notify(client, fake_mp, payment["id"], secret="not-the-secret")
    assert forged.status_code == 403
    # A valid signature for another payment id does not cover this one.
    params, body, headers = fake_mp.notification(payment["id"])
    params["data.id"] = "999"
    assert client.post(WEBHOOK, query_string=params, data=body, headers=headers).status_code == 403
    unsigned = client.post(WEBHOOK, query_string={"data.id": "1", "type": "payment"}, data=b"{}")
    assert unsigned.status_code == 403
    assert db.execute(select(func.count(PaymentEvent.id))).scalar() == 0
    assert db.execute(select(Payment)).first() is None


def test_an_unreadable_payment_is_asked_for_again_later(app, client, db, camila, fake_mp):
    start_checkout(app, client, camila)
    [pref_id] = fake_mp.preferences
    payment = fake_mp.pay(pref_id)
    fake_mp.failures.extend([500, 500, 500])  # the SDK's transport retries, then gives up
    assert notify(client, fake_mp, payment["id"]).status_code == 503
    unknown = notify(client, fake_mp, 123456)  # not replicated yet, say
    assert unknown.status_code == 503
    assert db.execute(select(PaymentEvent)).first() is None  # nothing stored: it comes again
    assert notify(client, fake_mp, payment["id"]).get_json() == {"outcome": "applied"}


def test_other_topics_are_acknowledged_and_ignored(app, client, db, fake_mp):
    response = notify(client, fake_mp, "ORD01JQ4S4KY8HWQ6NA5PXB65B3D3", type_="order")
    assert response.get_json() == {"outcome": "ignored"}


def test_the_webhook_is_off_without_its_secret(app, client, fake_mp):
    app.config["MERCADOPAGO_WEBHOOK_SECRET"] = None
    assert client.post(WEBHOOK, data=b"{}").status_code == 404


def test_a_refund_and_an_unknown_checkout(app, client, db, camila, fake_mp):
    start_checkout(app, client, camila)
    [pref_id] = fake_mp.preferences
    payment = fake_mp.pay(pref_id)
    notify(client, fake_mp, payment["id"])
    fake_mp.set_status(payment["id"], "refunded")
    refunded = notify(client, fake_mp, payment["id"])
    # Recorded for the ledger's refund entry; the checkout stays paid.
    assert refunded.get_json() == {"outcome": "stale"}
    stray = fake_mp._payment(
        amount=Decimal("10"),
        currency_id="COP",
        external_reference="chk-999",
        status="approved",
        status_detail=None,
        payment_method_id="pse",
        payment_type_id="bank_transfer",
        metadata={},
        notification_url=None,
        order={},
    )
    assert notify(client, fake_mp, stray["id"]).get_json() == {"outcome": "unknown_checkout"}


@pytest.mark.parametrize(
    ("minor", "currency", "sent"),
    [(15_000_000, "COP", 150000), (12_500_050, "COP", 125000.5), (99_990, "CLP", 99990)],
)
def test_amounts_go_as_json_numbers_and_come_back_exact(minor, currency, sent):
    assert unit_price(minor, currency) == sent and type(unit_price(minor, currency)) is type(sent)
    assert to_minor(sent, currency) == minor


@pytest.mark.parametrize("amount", [1.005, "10", True, -1])
def test_odd_amounts_are_refused(amount):
    with pytest.raises(providers.BadEvent):
        to_minor(amount, "COP")


def test_an_event_carries_the_method_for_the_receipt():
    event = event_from_payment(
        {
            "id": 5,
            "status": "approved",
            "currency_id": "MXN",
            "transaction_amount": 1250.5,
            "external_reference": "chk-7",
            "payment_method_id": "oxxo",
            "payment_type_id": "ticket",
        }
    )
    assert (event.id, event.kind, event.ref, event.payment_ref) == (
        "5:approved",
        "completed",
        "chk-7",
        "5",
    )
    assert event.amount_minor == 125_050 and event.extra["method"] == "oxxo"
