"""Auto-debit with the real stripe library against the local fake: opt in on the pay page (setup
mode Checkout), off-session charges on each due date, our own retry schedule, the fallback
reminder with a link, cancelling; never a double charge."""

import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from bot.debts import plans
from bot.models import (
    Account,
    AutodebitAttempt,
    AutodebitMandate,
    Checkout,
    Message,
    Payment,
    PaymentPolicy,
)
from bot.payments import autodebit, links
from bot.payments import reconcile as payments
from bot.testing.fake_stripe import FakeStripe

# A Tuesday; 10:00 in Bogotá. Three days on is a Friday, seven a Tuesday: no holiday between.
DUE = datetime(2026, 11, 3, 15, 0, tzinfo=timezone.utc)
WEBHOOK = "/pay/webhooks/stripe"


@pytest.fixture
def stripe_api(app):
    fake = FakeStripe("sk_test_" + "a" * 24, "whsec_autodebit").start()
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


@pytest.fixture
def now(time_machine):
    time_machine.move_to(DUE, tick=False)
    return DUE


@pytest.fixture
def camila(db, conversation, now):
    """DEMO-CO-001 (COP 150 000.00) on three installments of 50 000, the first due today; she
    is writing on WhatsApp."""
    conversation.last_inbound_at = now.replace(tzinfo=None)
    account = db.execute(select(Account).where(Account.external_id == "DEMO-CO-001")).scalar_one()
    policy = db.execute(
        select(PaymentPolicy).where(PaymentPolicy.portfolio == "default")
    ).scalar_one()
    rows = plans.schedule(account.balance_minor, 3, policy, now.date())
    plans.create_plan(db, account, rows, actor="debtor")
    db.commit()
    return account


def page(app, account):
    with app.app_context():
        return "/pay/" + links.payment_url(account).rsplit("/", 1)[1]


def opt_in(app, client, stripe_api, account, outcome="succeeds"):
    url = page(app, account)
    start = client.post(f"{url}/autodebit", data={"consent": "yes"})
    assert start.status_code == 303, start.get_data(as_text=True)
    session_id = start.location.rsplit("/", 1)[1]
    assert start.location == stripe_api.sessions[session_id]["url"]
    payload, headers = stripe_api.complete_setup(session_id, outcome=outcome)
    saved = client.post(WEBHOOK, data=payload, headers=headers)
    assert saved.get_json() == {"outcome": "autodebit_active"}
    return url


def run(db, moment=None):
    if moment is not None:
        import time_machine as tm

        with tm.travel(moment, tick=False):
            return autodebit.run(db)
    return autodebit.run(db)


def test_opt_in_shows_the_schedule_saves_a_card_and_says_so(app, client, db, camila, stripe_api):
    url = page(app, camila)
    text = client.get(url).get_data(as_text=True)
    assert "Pago automático" in text and "Cuota 3: $50.000" in text
    refused = client.post(f"{url}/autodebit", data={})
    assert refused.status_code == 422 and "Marca la autorización" in refused.get_data(as_text=True)
    opt_in(app, client, stripe_api, camila)
    mandate = db.execute(select(AutodebitMandate)).scalar_one()
    assert (mandate.status, mandate.brand, mandate.last4) == ("active", "visa", "4242")
    assert mandate.method_ref.startswith("pm_") and mandate.customer_ref.startswith("cus_")
    assert [i["amount_minor"] for i in mandate.consent["installments"]] == [5_000_000] * 3
    # The customer carries nothing personal: only the account's id.
    [customer] = stripe_api.customers.values()
    assert customer["metadata"] == {"account_id": str(camila.id)}
    [active] = db.execute(
        select(Message).where(Message.template_key == "autodebit.active")
    ).scalars()
    assert "Visa •••• 4242" in active.body and "$50.000" in active.body
    assert "Pago automático activo con Visa •••• 4242" in client.get(url).get_data(as_text=True)
    # The setup event again (Stripe redelivers): nothing changes.
    [session_id] = [s for s, o in stripe_api.sessions.items() if o["mode"] == "setup"]
    payload, headers = stripe_api.signed(stripe_api.event(session_id))
    assert client.post(WEBHOOK, data=payload, headers=headers).get_json() == {
        "outcome": "duplicate_setup"
    }


def test_the_due_installment_is_charged_once(app, client, db, camila, stripe_api):
    opt_in(app, client, stripe_api, camila)
    assert run(db)["charged"] == 1
    [intent] = stripe_api.payment_intents.values()
    assert (intent["amount"], intent["currency"], intent["status"]) == (
        5_000_000,
        "cop",
        "succeeded",
    )
    [(_m, _p, form)] = [c for c in stripe_api.calls if c[1] == "/v1/payment_intents"]
    assert form["off_session"] == "true" and form["confirm"] == "true"
    payment = db.execute(select(Payment)).scalar_one()
    assert (payment.provider, payment.provider_ref, payment.amount_minor) == (
        "stripe",
        intent["id"],
        5_000_000,
    )
    checkout = db.get(Checkout, payment.checkout_id)
    assert (checkout.purpose, checkout.status) == ("autodebit", "completed")
    assert db.get(Account, camila.id).balance_minor == 10_000_000
    # Later runs the same day charge nothing more; the next installment waits for its date.
    assert run(db)["charged"] == 0
    # Stripe's own webhook about the same charge is a duplicate.
    event = stripe_api.payment_intent_event(intent["id"])
    payload, headers = stripe_api.signed(event)
    assert client.post(WEBHOOK, data=payload, headers=headers).get_json() == {
        "outcome": "duplicate_payment"
    }
    assert db.execute(select(func.count(Payment.id))).scalar() == 1
    # A month on, the second one.
    second = run(db, datetime(2026, 12, 3, 15, 0, tzinfo=timezone.utc))
    assert second["charged"] == 1 and len(stripe_api.payment_intents) == 2


def test_a_soft_decline_is_retried_on_our_days_then_a_link_is_sent(
    app, client, db, camila, stripe_api
):
    opt_in(app, client, stripe_api, camila, outcome="insufficient_funds")
    assert run(db)["declined"] == 1
    assert run(db)["declined"] == 0  # not again the same day
    assert run(db, datetime(2026, 11, 5, 15, tzinfo=timezone.utc))["declined"] == 0
    assert run(db, datetime(2026, 11, 6, 15, tzinfo=timezone.utc))["declined"] == 1  # D+3
    assert run(db, datetime(2026, 11, 10, 15, tzinfo=timezone.utc))["declined"] == 1  # D+7
    attempts = (
        db.execute(select(AutodebitAttempt).order_by(AutodebitAttempt.attempt)).scalars().all()
    )
    assert [(a.attempt, a.status, a.decline_code) for a in attempts] == [
        (1, "declined", "insufficient_funds"),
        (2, "declined", "insufficient_funds"),
        (3, "declined", "insufficient_funds"),
    ]
    keys = [
        c[2].get("metadata[attempt]") for c in stripe_api.calls if c[1] == "/v1/payment_intents"
    ]
    assert keys == ["1", "2", "3"]
    # No try left: the reminder with a link, once.
    assert run(db, datetime(2026, 11, 10, 16, tzinfo=timezone.utc))["notified"] == 1
    assert run(db, datetime(2026, 11, 11, 16, tzinfo=timezone.utc))["notified"] == 0
    [notice] = db.execute(
        select(Message).where(Message.template_key == "autodebit.failed")
    ).scalars()
    assert "cuota 1 de $50.000" in notice.body and re.search(r"https://\S+/pay/", notice.body)
    assert db.execute(select(AutodebitMandate.status)).scalar_one() == "active"


def test_a_card_that_needs_the_debtor_suspends_and_falls_back_at_once(
    app, client, db, camila, stripe_api
):
    opt_in(app, client, stripe_api, camila, outcome="authentication_required")
    report = run(db)
    assert report["needs_debtor"] == 1
    attempt = db.execute(select(AutodebitAttempt)).scalar_one()
    assert (attempt.status, attempt.code) == ("needs_debtor", "authentication_required")
    assert db.execute(select(AutodebitMandate.status)).scalar_one() == "suspended"
    assert run(db)["notified"] == 1
    # Nothing more is charged on a suspended auto-debit, even on the next due date.
    run(db, datetime(2026, 12, 3, 15, tzinfo=timezone.utc))
    assert len(stripe_api.payment_intents) == 1
    text = client.get(page(app, camila)).get_data(as_text=True)
    assert "No pudimos cobrar con tu tarjeta" in text and "Activar pago automático" in text


def test_the_fallback_waits_for_an_allowed_hour(app, client, db, camila, stripe_api):
    opt_in(app, client, stripe_api, camila, outcome="expired_card")
    assert run(db)["needs_debtor"] == 1
    night = datetime(2026, 11, 4, 4, 0, tzinfo=timezone.utc)  # 23:00 in Bogotá
    assert run(db, night)["notified"] == 0
    assert db.execute(select(AutodebitAttempt.notified_at)).scalar_one() is None
    assert run(db, datetime(2026, 11, 4, 14, 0, tzinfo=timezone.utc))["notified"] == 1


def test_a_provider_outage_asks_again_with_the_same_key(app, client, db, camila, stripe_api):
    opt_in(app, client, stripe_api, camila)
    stripe_api.failures.extend([500, 500, 500])  # the library retries twice, then gives up
    assert run(db)["provider_down"] == 1
    assert db.execute(select(AutodebitAttempt.status)).scalar_one() == "provider_down"
    assert run(db)["charged"] == 1
    assert len(stripe_api.payment_intents) == 1
    keys = {c[2]["metadata[attempt]"] for c in stripe_api.calls if c[1] == "/v1/payment_intents"}
    assert keys == {"1"}


def test_a_crash_after_the_charge_never_charges_twice(
    app, client, db, camila, stripe_api, monkeypatch
):
    opt_in(app, client, stripe_api, camila)
    real = payments.handle_event
    calls = []

    def crash_once(*args):
        calls.append(args)
        if len(calls) == 1:
            raise RuntimeError("worker killed")
        return real(*args)

    monkeypatch.setattr(payments, "handle_event", crash_once)
    assert run(db)["charged"] == 0  # the charge went through; recording it did not
    assert db.execute(select(AutodebitAttempt.status)).scalar_one() == "charging"
    assert run(db)["charged"] == 1
    assert len(stripe_api.payment_intents) == 1  # Stripe answered the same key with the same PI
    assert db.execute(select(func.count(Payment.id))).scalar() == 1


def test_nothing_is_charged_in_the_debtors_night(app, client, db, camila, stripe_api):
    opt_in(app, client, stripe_api, camila)
    app.config["AUTODEBIT_FROM_HOUR"] = 8
    early = datetime(2026, 11, 3, 11, 0, tzinfo=timezone.utc)  # 06:00 in Bogotá
    assert run(db, early)["charged"] == 0
    assert run(db, datetime(2026, 11, 3, 13, 30, tzinfo=timezone.utc))["charged"] == 1


def test_cancelling_stops_the_charges_and_forgets_the_card(app, client, db, camila, stripe_api):
    url = opt_in(app, client, stripe_api, camila)
    done = client.post(f"{url}/autodebit/cancel")
    assert done.status_code == 303
    assert "cancelamos tu pago automático" in client.get(done.location).get_data(as_text=True)
    mandate = db.execute(select(AutodebitMandate)).scalar_one()
    assert (mandate.status, mandate.cancelled_by) == ("cancelled", f"debtor:{camila.debtor_id}")
    [pm] = stripe_api.payment_methods.values()
    assert pm["customer"] is None  # detached
    assert run(db)["charged"] == 0 and stripe_api.payment_intents == {}
    # The chat's service says there is nothing to cancel any more.
    assert autodebit.cancel(db, camila, "debtor") == ("autodebit.none", {})


def test_the_chat_can_ask_about_it(app, client, db, camila, stripe_api):
    assert autodebit.describe(db, camila) == ("autodebit.none", {})
    opt_in(app, client, stripe_api, camila)
    key, variables = autodebit.describe(db, camila)
    assert key == "autodebit.status" and variables["card"] == "Visa •••• 4242"
    assert variables["amount"] == {"amount": "50000.00", "currency": "COP"}
    assert autodebit.cancel(db, camila, "debtor") == ("autodebit.cancelled", {})


def test_not_offered_without_a_plan_or_a_provider(app, client, db, demo_debtors, stripe_api, now):
    emily = db.execute(select(Account).where(Account.external_id == "DEMO-US-001")).scalar_one()
    url = page(app, emily)
    assert "Automatic payments" not in client.get(url).get_data(as_text=True)
    assert client.post(f"{url}/autodebit", data={"consent": "yes"}).status_code == 409


def test_the_sandbox_saves_a_pretend_card(app, client, db, camila, monkeypatch):
    from tests.unit.web.test_pay import sandbox_post_through

    app.config["AUTODEBIT_PROVIDER"] = "sandbox"
    url = page(app, camila)
    start = client.post(f"{url}/autodebit", data={"consent": "yes"})
    path = start.location.split("bot.example.test", 1)[1]
    assert "Visa •••• 9995 (fondos insuficientes)" in client.get(path).get_data(as_text=True)
    sandbox_post_through(client, monkeypatch)
    saved = client.post(path, data={"card": "succeeds"})
    assert saved.status_code == 200 and "Tarjeta guardada" in saved.get_data(as_text=True)
    assert db.execute(select(AutodebitMandate.status)).scalar_one() == "active"
    assert run(db)["charged"] == 1
    assert db.execute(select(Payment.provider)).scalar_one() == "sandbox"


def test_an_unfinished_card_page_can_be_started_again(app, client, db, camila, stripe_api):
    url = page(app, camila)
    first = client.post(f"{url}/autodebit", data={"consent": "yes"})
    assert "Si no terminaste" in client.get(url).get_data(as_text=True)
    second = client.post(f"{url}/autodebit", data={"consent": "yes"})
    assert first.location != second.location
    statuses = db.execute(select(AutodebitMandate.status).order_by(AutodebitMandate.id)).scalars()
    assert list(statuses) == ["cancelled", "pending"]
    # The abandoned page completed late: it changes nothing; the new one activates.
    late, new = (loc.rsplit("/", 1)[1] for loc in (first.location, second.location))
    payload, headers = stripe_api.complete_setup(late)
    assert client.post(WEBHOOK, data=payload, headers=headers).get_json() == {
        "outcome": "duplicate_setup"
    }
    payload, headers = stripe_api.complete_setup(new)
    assert client.post(WEBHOOK, data=payload, headers=headers).get_json() == {
        "outcome": "autodebit_active"
    }
