import time
from datetime import timedelta

import pytest
from redis import Redis
from rq import Queue
from sqlalchemy import func, select

from bot import clock
from bot.debts import plans, policies
from bot.models import (
    Account,
    Checkout,
    Message,
    Payment,
    PaymentEvent,
    PaymentPlan,
    PaymentPolicy,
    Promise,
)
from bot.payments import links, providers
from bot.testing.fake_stripe import FakeStripe


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


def test_an_expired_link_reveals_nothing(app, client, db, demo_debtors, travel):
    with app.app_context():
        token = links.payment_url(account(db)).rsplit("/", 1)[1]
    travel(hours=app.config["PAY_LINK_TTL_HOURS"], seconds=1)
    page = client.get(f"/pay/{token}")
    assert page.status_code == 410 and "150.000" not in page.get_data(as_text=True)


# -- the self-service page (issue 6) --------------------------------------------------------


def token_for(app, db, external_id="DEMO-CO-001"):
    row = db.execute(select(Account).where(Account.external_id == external_id)).scalar_one()
    with app.test_request_context():
        return row, links.payment_url(row).rsplit("/", 1)[1]


def test_the_page_offers_what_the_policy_allows(app, client, db, demo_debtors):
    db.add(PaymentPolicy(portfolio="demo", discount_max_pct=10, discount_valid_days=5))
    db.commit()
    _, token = token_for(app, db)
    text = client.get(f"/pay/{token}").get_data(as_text=True)
    assert "Pagar todo: $150.000" in text
    assert "Pagar $135.000 y ahorrar 10%" in text  # the discount the bot offers in chat
    assert '<label for="plan-count">' in text and '<option value="12">' in text
    assert '<label for="promise-date">' in text and 'type="date"' in text
    assert "Todavía no hay pagos registrados." in text


def test_english_debtor_reads_english(app, client, db, demo_debtors):
    _, token = token_for(app, db, "DEMO-US-001")
    text = client.get(f"/pay/{token}").get_data(as_text=True)
    assert 'lang="en"' in text and "Pay in full: $420.00" in text and "November 1, 2026" in text


def test_choosing_a_plan_creates_the_plan_the_bot_would(app, client, db, demo_debtors):
    account, token = token_for(app, db)
    response = client.post(f"/pay/{token}/plan", data={"count": "3"})
    assert response.status_code == 303 and response.location.endswith("done=plan")
    plan = db.execute(select(PaymentPlan)).scalar_one()
    policy = policies.policy_for(db, account)
    expected = plans.schedule(15_000_000, 3, policy, clock.today_for(account.debtor))
    assert [(i.due_date, i.amount_minor) for i in plan.installments] == expected
    db.refresh(account)
    assert account.status == "plan" and plan.created_by == f"debtor:{account.debtor_id}"
    page = client.get(response.location).get_data(as_text=True)
    assert "Listo: tu plan quedó creado." in page
    assert f"Pagar la cuota 1 de 3: {format_cop(expected[0][1])}" in page
    # A second post (a double tap) shows the plan the first one made; no second plan.
    again = client.post(f"/pay/{token}/plan", data={"count": "4"})
    assert again.status_code == 303 and again.location.endswith("done=plan")
    assert db.execute(select(func.count(PaymentPlan.id))).scalar() == 1


def format_cop(minor):
    return "$" + f"{minor // 100:,}".replace(",", ".")


@pytest.mark.parametrize("count", ["1", "99", "abc", ""])
def test_a_plan_the_page_did_not_offer_is_refused(app, client, db, demo_debtors, count):
    _, token = token_for(app, db)
    response = client.post(f"/pay/{token}/plan", data={"count": count})
    assert response.status_code == 400 and "No pudimos leer tu elección" in response.get_data(
        as_text=True
    )
    assert db.execute(select(PaymentPlan)).first() is None


def test_proposing_a_date_records_the_promise_the_bot_would(app, client, db, demo_debtors):
    account, token = token_for(app, db)
    today = clock.today_for(account.debtor)
    day = today + timedelta(days=7)
    response = client.post(f"/pay/{token}/promise", data={"date": day.isoformat()})
    assert response.status_code == 303
    row = db.execute(select(Promise)).scalar_one()
    assert (row.promised_date, row.amount_minor, row.status) == (day, 15_000_000, "pending")
    assert "Listo: anotamos que pagarás $150.000" in client.get(response.location).get_data(
        as_text=True
    )
    too_far = client.post(
        f"/pay/{token}/promise", data={"date": (today + timedelta(days=60)).isoformat()}
    )
    assert too_far.status_code == 422 and "La fecha máxima es" in too_far.get_data(as_text=True)
    past = client.post(f"/pay/{token}/promise", data={"date": "2020-01-01"})
    assert past.status_code == 422
    assert client.post(f"/pay/{token}/promise", data={"date": "soon"}).status_code == 400
    assert db.execute(select(func.count(Promise.id))).scalar() == 1


def test_unknown_option_is_a_400_and_creates_nothing(app, client, db, demo_debtors):
    _, token = token_for(app, db)
    for option in ("free", "installment", "discount"):  # no plan, no discount in the policy
        assert client.post(f"/pay/{token}/checkout", data={"option": option}).status_code == 400
    assert db.execute(select(Checkout)).first() is None


def sandbox_post_through(client, monkeypatch):
    """Route the sandbox's own webhook call through the test client (no server in unit tests)."""
    from bot.web import pay_providers

    def post(url, payload, headers):
        path = url.split("bot.example.test", 1)[1]
        return client.post(path, data=payload, headers=headers).status_code

    monkeypatch.setattr(pay_providers, "post_webhook", post)


def test_sandbox_checkout_pays_with_one_click(app, client, db, conversation, monkeypatch):
    account, token = token_for(app, db)
    response = client.post(f"/pay/{token}/checkout", data={"option": "full"})
    assert response.status_code == 303
    assert response.location.startswith("https://bot.example.test/pay/sandbox/checkout/cs_sandbox_")
    path = response.location.split("bot.example.test", 1)[1]
    checkout_page = client.get(path).get_data(as_text=True)
    assert "Pagar $150.000" in checkout_page and 'lang="es"' in checkout_page
    sandbox_post_through(client, monkeypatch)
    done = client.post(path)
    assert done.status_code == 200 and "Pago de prueba enviado" in done.get_data(as_text=True)
    db.expire_all()
    account = db.get(Account, account.id)
    assert account.status == "paid" and account.balance_minor == 0
    [thanks] = db.execute(
        select(Message).where(Message.template_key == "payment.thanks_paid")
    ).scalars()
    jobs = Queue("outbound", connection=Redis.from_url(app.config["REDIS_URL"])).jobs
    [payment] = db.execute(select(Payment)).scalars()
    # The thank-you goes out, then the PDF receipt and the paz y salvo are issued.
    assert [(j.func_name.rsplit(".", 1)[1], j.args) for j in jobs] == [
        ("deliver_outbound", (thanks.id,)),
        ("issue_documents", (payment.id,)),
    ]
    # Paying again (a second click, a back button) posts nothing and pays nothing more.
    assert client.post(path).status_code == 200
    assert db.execute(select(func.count(Payment.id))).scalar() == 1
    history = client.get(f"/pay/{token}").get_data(as_text=True)
    assert "Tu cuenta está al día" in history and "$150.000" in history


def sandbox_event(app, db, account, amount):
    checkout = Checkout(
        account_id=account.id,
        provider="sandbox",
        provider_ref="cs_sandbox_x",
        purpose="full",
        amount_minor=amount,
        currency=account.currency,
    )
    db.add(checkout)
    db.commit()
    with app.app_context():
        return providers.get("sandbox").completed_event(checkout)


def test_webhook_rejects_a_bad_signature_and_stores_nothing(app, client, db, demo_debtors):
    account, _ = token_for(app, db)
    payload, headers = sandbox_event(app, db, account, 1_000_000)
    forged = {"Sandbox-Signature": providers.sign(payload, "whsec_wrong")}
    assert client.post("/pay/webhooks/sandbox", data=payload, headers=forged).status_code == 403
    assert client.post("/pay/webhooks/sandbox", data=payload).status_code == 403
    good = {"Sandbox-Signature": providers.sign(b"{not json", app.config["SANDBOX_PAYMENT_SECRET"])}
    assert client.post("/pay/webhooks/sandbox", data=b"{not json", headers=good).status_code == 400
    assert db.execute(select(func.count(PaymentEvent.id))).scalar() == 0
    db.refresh(account)
    assert account.balance_minor == 15_000_000
    # Stripe's webhook does not exist without its secret.
    assert client.post("/pay/webhooks/stripe", data=payload).status_code == 404
    assert client.post("/pay/webhooks/paypal", data=payload).status_code == 404


def test_webhook_redelivery_is_processed_once(app, client, db, demo_debtors):
    account, _ = token_for(app, db)
    payload, headers = sandbox_event(app, db, account, 1_000_000)
    first = client.post("/pay/webhooks/sandbox", data=payload, headers=headers)
    again = client.post("/pay/webhooks/sandbox", data=payload, headers=headers)
    assert first.json == {"outcome": "applied"} and again.json == {"outcome": "duplicate_event"}
    db.refresh(account)
    assert account.balance_minor == 14_000_000


def test_an_old_signature_is_refused(app, client, db, demo_debtors):
    account, _ = token_for(app, db)
    payload, _ = sandbox_event(app, db, account, 1_000_000)
    stale = providers.sign(payload, app.config["SANDBOX_PAYMENT_SECRET"], time.time() - 3600)
    response = client.post(
        "/pay/webhooks/sandbox", data=payload, headers={"Sandbox-Signature": stale}
    )
    assert response.status_code == 403


def test_expired_link_sends_a_fresh_one_on_whatsapp_rate_limited(
    app, client, db, demo_debtors, travel
):
    from bot.clock import utcnow
    from bot.conversations.inbound import get_or_create_conversation

    account, token = token_for(app, db)
    travel(hours=app.config["PAY_LINK_TTL_HOURS"], seconds=1)
    chat = get_or_create_conversation(db, "whatsapp", "+573001234567")
    chat.last_inbound_at = utcnow()  # they wrote today: inside WhatsApp's window
    db.commit()
    expired = client.get(f"/pay/{token}")
    assert expired.status_code == 410 and f"/pay/{token}/renew" in expired.get_data(as_text=True)
    sent = client.post(f"/pay/{token}/renew")
    assert sent.status_code == 200 and "150.000" not in sent.get_data(as_text=True)
    [row] = db.execute(select(Message).where(Message.template_key == "payment.link")).scalars()
    assert row.conversation.channel == "whatsapp" and row.conversation.address == "+573001234567"
    assert "https://bot.example.test/pay/" in row.body and token not in row.body
    for _ in range(app.config["FRESH_LINKS_PER_HOUR"] - 1):
        assert client.post(f"/pay/{token}/renew").status_code == 200
    assert client.post(f"/pay/{token}/renew").status_code == 429
    count = db.execute(select(func.count(Message.id)).where(Message.template_key == "payment.link"))
    assert count.scalar() == app.config["FRESH_LINKS_PER_HOUR"]


def test_a_tampered_link_cannot_ask_for_a_fresh_one(app, client, db, demo_debtors):
    _, token = token_for(app, db)
    tampered = ("A" if token[0] != "A" else "B") + token[1:]
    page = client.get(f"/pay/{tampered}").get_data(as_text=True)
    assert "/renew" not in page and "wa.me/14155238886" in page
    response = client.post(f"/pay/{tampered}/renew")
    assert response.status_code == 400 and "wa.me/14155238886" in response.get_data(as_text=True)
    assert db.execute(select(Message)).first() is None


# -- Stripe, against a local Stripe-compatible server ------------------------------------------


@pytest.fixture
def fake_stripe(app):
    fake = FakeStripe("sk_test_" + "k" * 24, "whsec_test_secret").start()
    app.config.update(
        PAYMENT_PROVIDER="stripe",
        STRIPE_SECRET_KEY=fake.secret_key,
        STRIPE_WEBHOOK_SECRET=fake.webhook_secret,
        STRIPE_API_BASE=fake.url,
        AUTODEBIT_PROVIDER="stripe",  # what the configuration derives with Stripe
    )
    yield fake
    fake.stop()


def test_stripe_checkout_then_signed_webhook(app, client, db, conversation, fake_stripe):
    account, token = token_for(app, db)
    response = client.post(f"/pay/{token}/checkout", data={"option": "full"})
    assert response.status_code == 303 and response.location.startswith(fake_stripe.url + "/c/pay/")
    [(form, headers)] = fake_stripe.requests
    assert form["line_items[0][price_data][unit_amount]"] == "15000000"
    assert form["line_items[0][price_data][currency]"] == "cop"
    assert form["success_url"].endswith(f"/pay/{token}?paid=1")
    assert headers["Idempotency-Key"].startswith("checkout-")
    [session_id] = fake_stripe.sessions
    checkout = db.execute(select(Checkout)).scalar_one()
    assert (checkout.provider, checkout.provider_ref) == ("stripe", session_id)
    event = fake_stripe.event(session_id, payment_status="paid", amount_total=6_000_000)
    payload, headers = fake_stripe.signed(event)
    assert client.post("/pay/webhooks/stripe", data=payload, headers=headers).json == {
        "outcome": "applied"
    }
    payload, bad = fake_stripe.signed(event, secret="whsec_other")
    assert client.post("/pay/webhooks/stripe", data=payload, headers=bad).status_code == 403
    db.expire_all()
    account = db.get(Account, account.id)
    assert account.balance_minor == 9_000_000 and account.status == "open"
    thanks = db.execute(
        select(Message).where(Message.template_key == "payment.thanks")
    ).scalar_one()
    assert "$60.000" in thanks.body and "$90.000" in thanks.body


def test_stripe_down_shows_a_friendly_error_and_keeps_nothing(
    app, client, db, demo_debtors, fake_stripe
):
    fake_stripe.failures = [500, 500, 500]
    _, token = token_for(app, db)
    response = client.post(f"/pay/{token}/checkout", data={"option": "full"})
    assert response.status_code == 503
    assert "No pudimos abrir el pago" in response.get_data(as_text=True)
    assert len(fake_stripe.requests) == 3  # the stripe library retried twice
    assert db.execute(select(Checkout)).first() is None


def test_stripe_async_payment_waits_for_success(app, client, db, demo_debtors, fake_stripe):
    account, token = token_for(app, db)
    client.post(f"/pay/{token}/checkout", data={"option": "full"})
    [session_id] = fake_stripe.sessions
    pending = fake_stripe.event(session_id, payment_status="unpaid")
    payload, headers = fake_stripe.signed(pending)
    assert client.post("/pay/webhooks/stripe", data=payload, headers=headers).json == {
        "outcome": "pending"
    }
    succeeded = fake_stripe.event(
        session_id, "checkout.session.async_payment_succeeded", payment_status="paid"
    )
    payload, headers = fake_stripe.signed(succeeded)
    assert client.post("/pay/webhooks/stripe", data=payload, headers=headers).json == {
        "outcome": "applied"
    }
    db.expire_all()
    assert db.get(Account, account.id).status == "paid"


def test_redis_down_after_a_payment_keeps_the_thanks_pending(
    app, client, db, conversation, monkeypatch
):
    from bot.tasks import queues

    # Redis refuses connections from here on (nothing listens on port 1).
    monkeypatch.setattr(queues, "redis_conn", lambda: Redis.from_url("redis://127.0.0.1:1/0"))
    account, _ = token_for(app, db)
    payload, headers = sandbox_event(app, db, account, 1_000_000)
    response = client.post("/pay/webhooks/sandbox", data=payload, headers=headers)
    assert response.status_code == 200 and response.json == {"outcome": "applied"}
    thanks = db.execute(
        select(Message).where(Message.template_key == "payment.thanks")
    ).scalar_one()
    assert thanks.status == "pending"


def test_sandbox_checkout_exists_only_with_the_sandbox_provider(app, client, db, fake_stripe):
    assert client.get("/pay/sandbox/checkout/cs_sandbox_nope").status_code == 404
    assert client.post("/pay/webhooks/sandbox", data=b"{}").status_code == 404
    app.config["PAYMENT_PROVIDER"] = "sandbox"
    assert client.get("/pay/sandbox/checkout/cs_sandbox_nope").status_code == 404


@pytest.mark.parametrize(
    "event",
    [
        [],
        {"id": "evt_1", "type": "checkout.session.completed", "data": []},
        {"id": "evt_1", "type": "checkout.session.completed", "data": {"object": "text"}},
        {"id": ["evt"], "type": "x", "data": {"object": {}}},
        {"id": "evt\x00", "type": "x", "data": {"object": {}}},
        {"id": "evt_2", "type": "checkout.session.completed", "data": {"object": {"id": "cs\x00"}}},
        {
            "id": "evt_3",
            "type": "checkout.session.completed",
            "data": {"object": {"id": "cs_1", "amount_total": 10**30, "payment_status": "paid"}},
        },
        {
            "id": "evt_4",
            "type": "checkout.session.completed",
            "data": {"object": {"id": "cs_1", "amount_total": True, "payment_status": "paid"}},
        },
        {"id": "e" * 129, "type": "x", "data": {"object": {}}},
    ],
)
def test_odd_payment_events_are_400_and_store_nothing(app, client, db, event):
    import json

    payload = json.dumps(event).encode()
    headers = {"Sandbox-Signature": providers.sign(payload, app.config["SANDBOX_PAYMENT_SECRET"])}
    response = client.post("/pay/webhooks/sandbox", data=payload, headers=headers)
    assert response.status_code == 400
    assert db.execute(select(func.count(PaymentEvent.id))).scalar() == 0


def at_once(count, request):
    """Run request(i) on count threads released together; their results in order."""
    import threading

    barrier = threading.Barrier(count)
    results = [None] * count

    def run(i):
        barrier.wait()
        results[i] = request(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_three_simultaneous_plan_posts_leave_one_plan(app, db, demo_debtors):
    """A double (triple) tap on a slow phone: one plan, and every tap sees it."""
    account, token = token_for(app, db)
    clients = [app.test_client() for _ in range(3)]
    codes = at_once(3, lambda i: clients[i].post(f"/pay/{token}/plan", data={"count": "3"}))
    assert [r.status_code for r in codes] == [303, 303, 303]
    assert all(r.location.endswith("done=plan") for r in codes)
    assert db.execute(select(func.count(PaymentPlan.id))).scalar() == 1


def test_the_same_promise_posted_twice_is_recorded_once(app, db, demo_debtors):
    account, token = token_for(app, db)
    day = (clock.today_for(account.debtor) + timedelta(days=3)).isoformat()
    clients = [app.test_client() for _ in range(2)]
    codes = at_once(2, lambda i: clients[i].post(f"/pay/{token}/promise", data={"date": day}))
    assert [r.status_code for r in codes] == [303, 303]
    assert db.execute(select(func.count(Promise.id))).scalar() == 1
