"""Stripe refunds and disputes: charge.refunded and charge.dispute.created, verified like every
Stripe event and reconciled through the same path, against the local Stripe-compatible server
(the real stripe library creates the checkout and verifies the signatures)."""

import pytest
from sqlalchemy import select

from bot.models import Account, Payment
from bot.payments import links
from bot.payments.providers import BadEvent, event_from_stripe_json
from bot.testing.fake_stripe import FakeStripe

WEBHOOK = "/pay/webhooks/stripe"


def stripe_event(type_, **obj):
    return {"id": "evt_1", "type": type_, "data": {"object": obj}}


def test_a_refund_names_the_payment_intent_and_all_refunded_so_far():
    charge = {
        "id": "ch_1",
        "object": "charge",
        "amount": 15_000_000,
        "amount_refunded": 5_000_000,
        "currency": "cop",
        "payment_intent": "pi_1",
    }
    event = event_from_stripe_json(stripe_event("charge.refunded", **charge))
    assert (event.kind, event.ref, event.payment_ref) == ("refunded", "pi_1", "pi_1")
    assert (event.amount_minor, event.currency) == (5_000_000, "COP")
    assert event.extra["paid_minor"] == 15_000_000


def test_a_dispute_is_a_chargeback_of_its_amount():
    dispute = {
        "id": "dp_1",
        "object": "dispute",
        "amount": 15_000_000,
        "charge": "ch_1",
        "payment_intent": None,
        "currency": "cop",
        "reason": "fraudulent",
    }
    event = event_from_stripe_json(stripe_event("charge.dispute.created", **dispute))
    assert (event.kind, event.payment_ref, event.amount_minor) == (
        "charged_back",
        "ch_1",
        15_000_000,
    )
    assert event.extra["reason"] == "fraudulent" and "paid_minor" not in event.extra


@pytest.mark.parametrize(
    "obj",
    [
        {"amount": 1, "amount_refunded": 1, "currency": "cop"},  # names nothing
        {"amount": "1", "amount_refunded": 1, "currency": "cop", "payment_intent": "pi_1"},
        {"amount": 1, "amount_refunded": -1, "currency": "cop", "payment_intent": "pi_1"},
        {"amount": 1, "amount_refunded": 1, "payment_intent": "pi_1"},  # no currency
        {"amount": 1, "amount_refunded": 1, "currency": "cop", "payment_intent": ["pi_1"]},
    ],
)
def test_odd_refunds_are_refused(obj):
    with pytest.raises(BadEvent):
        event_from_stripe_json(stripe_event("charge.refunded", **obj))


def test_a_completed_checkout_keeps_its_payment_intent():
    session = {
        "id": "cs_1",
        "amount_total": 100,
        "currency": "cop",
        "payment_status": "paid",
        "payment_intent": "pi_9",
    }
    event = event_from_stripe_json(stripe_event("checkout.session.completed", **session))
    assert event.extra == {"intent": "pi_9"}


@pytest.fixture
def fake_stripe(app):
    fake = FakeStripe("sk_test_" + "r" * 24, "whsec_refund_secret").start()
    app.config.update(
        PAYMENT_PROVIDER="stripe",
        STRIPE_SECRET_KEY=fake.secret_key,
        STRIPE_WEBHOOK_SECRET=fake.webhook_secret,
        STRIPE_API_BASE=fake.url,
        AUTODEBIT_PROVIDER="stripe",
    )
    app.extensions.pop("payment_providers", None)
    yield fake
    fake.stop()


def post(client, fake, event, **sign):
    payload, headers = fake.signed(event, **sign)
    return client.post(WEBHOOK, data=payload, headers=headers)


def test_a_paid_checkout_refunded_then_disputed(app, client, db, demo_debtors, fake_stripe):
    account = db.execute(select(Account).where(Account.external_id == "DEMO-CO-001")).scalar_one()
    with app.test_request_context():
        token = links.payment_url(account).rsplit("/", 1)[1]
    assert client.post(f"/pay/{token}/checkout", data={"option": "full"}).status_code == 303
    [session_id] = fake_stripe.sessions
    intent = fake_stripe.pay_session(session_id)
    paid = fake_stripe.event(session_id, payment_status="paid", status="complete")
    assert post(client, fake_stripe, paid).json == {"outcome": "applied"}
    db.expire_all()
    assert db.get(Account, account.id).status == "paid"
    assert db.execute(select(Payment.intent_ref)).scalar_one() == intent

    refund = fake_stripe.refund_event(session_id)
    assert post(client, fake_stripe, refund, secret="whsec_other").status_code == 403
    assert post(client, fake_stripe, refund).json == {"outcome": "reversed"}
    assert post(client, fake_stripe, refund).json == {"outcome": "duplicate_event"}
    # The cardholder disputes the refunded charge too: nothing is undone twice.
    dispute = fake_stripe.dispute_event(session_id)
    assert post(client, fake_stripe, dispute).json == {"outcome": "already_reversed"}
    db.expire_all()
    row = db.get(Account, account.id)
    assert (row.balance_minor, row.status) == (15_000_000, "open")
    assert db.execute(select(Payment.status)).scalar_one() == "reversed"
    page = client.get(f"/pay/{token}").get_data(as_text=True)
    assert "<s>$150.000</s> (reembolsado o reversado)" in page


def test_a_dispute_before_the_completion_undoes_it_on_arrival(
    app, client, db, demo_debtors, fake_stripe
):
    account = db.execute(select(Account).where(Account.external_id == "DEMO-CO-001")).scalar_one()
    with app.test_request_context():
        token = links.payment_url(account).rsplit("/", 1)[1]
    client.post(f"/pay/{token}/checkout", data={"option": "full"})
    [session_id] = fake_stripe.sessions
    dispute = fake_stripe.dispute_event(session_id)
    assert post(client, fake_stripe, dispute).json == {"outcome": "waiting_chargeback"}
    paid = fake_stripe.event(session_id, payment_status="paid", status="complete")
    assert post(client, fake_stripe, paid).json == {"outcome": "reversed_on_arrival"}
    db.expire_all()
    assert db.get(Account, account.id).balance_minor == 15_000_000


def test_a_dispute_won_applies_the_payment_again(app, client, db, demo_debtors, fake_stripe):
    account = db.execute(select(Account).where(Account.external_id == "DEMO-CO-001")).scalar_one()
    with app.test_request_context():
        token = links.payment_url(account).rsplit("/", 1)[1]
    client.post(f"/pay/{token}/checkout", data={"option": "full"})
    [session_id] = fake_stripe.sessions
    fake_stripe.pay_session(session_id)
    paid = fake_stripe.event(session_id, payment_status="paid", status="complete")
    assert post(client, fake_stripe, paid).json == {"outcome": "applied"}
    assert post(client, fake_stripe, fake_stripe.dispute_event(session_id)).json == {
        "outcome": "reversed"
    }
    lost = fake_stripe.dispute_event(session_id, closed="lost")
    assert post(client, fake_stripe, lost).json == {"outcome": "ignored"}
    won = fake_stripe.dispute_event(session_id, closed="won")
    assert post(client, fake_stripe, won).json == {"outcome": "reinstated"}
    again = fake_stripe.dispute_event(session_id, closed="won")  # another event id
    assert post(client, fake_stripe, again).json == {"outcome": "duplicate_payment"}
    db.expire_all()
    row = db.get(Account, account.id)
    assert (row.balance_minor, row.status) == (0, "paid")
    statuses_ = db.execute(select(Payment.status).order_by(Payment.id)).scalars().all()
    assert statuses_ == ["reversed", "succeeded"]
