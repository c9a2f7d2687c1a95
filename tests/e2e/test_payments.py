"""End to end: a chat asks for the link, the page takes a choice, the provider's signed webhook
is reconciled, and the thank-you reaches the local Twilio-compatible server. Also the page in
a real browser (Chromium at a phone's size) in Spanish and English."""

import re
from pathlib import Path

import pytest
import requests
from itsdangerous import URLSafeTimedSerializer

from bot.testing import wait_for
from bot.testing.fake_stripe import FakeStripe
from bot.testing.stack import BIN, free_port
from tests.e2e.test_pipeline import db_rows, turn

pytestmark = pytest.mark.e2e

DEBTORS = Path(__file__).parent / "debtors_payments.csv"
GRACE = "+12025550160"  # en-US, USD 180.00, ID ends 6060
VALERIA = "+573015550601"  # es-CO, COP 240000.00, ID ends 6161
TOMAS = "E2E-CO-62"  # browser test, es-CO, COP 300000.00
HENRY = "E2E-US-62"  # browser test, en-US, USD 360.00


@pytest.fixture(scope="module")
def debtors(stack):
    """This file's own debtors, so other tests' conversations never change their balances."""
    stack._run("import-debts", str(DEBTORS))
    return stack


def link_from(reply):
    return re.search(r"https?://\S+/pay/[\w.-]+", reply).group(0)


def test_chat_link_page_plan_sandbox_payment_thank_you(debtors):
    stack = debtors
    [ask] = turn(stack, GRACE, "can you send me the payment link please", 1)
    assert "last 4 digits" in ask
    verified, link = turn(stack, GRACE, "6060", 2)
    url = link_from(link)
    assert url.startswith(stack.base_url + "/pay/") and "Grace" not in url
    page = requests.get(url, timeout=5)
    assert page.status_code == 200 and "Pay in full: $180.00" in page.text
    # Choose 3 installments on the page: the same plan the bot would create.
    chosen = requests.post(url + "/plan", data={"count": "3"}, allow_redirects=False, timeout=5)
    assert chosen.status_code == 303
    page = requests.get(stack.base_url + chosen.headers["Location"], timeout=5)
    assert "Pay installment 1 of 3: $60.00" in page.text
    # Pay the first installment with the sandbox provider's one click.
    start = requests.post(
        url + "/checkout", data={"option": "installment"}, allow_redirects=False, timeout=5
    )
    assert start.status_code == 303
    checkout_url = start.headers["Location"]
    assert checkout_url.startswith(stack.base_url + "/pay/sandbox/checkout/cs_sandbox_")
    assert "Pay $60.00" in requests.get(checkout_url, timeout=5).text
    before = len(stack.twilio.to(f"whatsapp:{GRACE}"))
    paid = requests.post(checkout_url, timeout=10)
    assert paid.status_code == 200 and "Test payment sent" in paid.text
    [thanks] = stack.twilio.wait_for(f"whatsapp:{GRACE}", before + 1)[before:]
    assert thanks["body"].startswith("Thank you! We received your payment of $60.00.")
    assert "You have $120.00 left to pay." in thanks["body"]
    rows = db_rows(
        stack,
        "SELECT a.balance_minor, a.status, i.seq, i.status FROM accounts a "
        "JOIN payment_plans p ON p.account_id = a.id JOIN installments i ON i.plan_id = p.id "
        "WHERE a.external_id = 'E2E-US-60' ORDER BY i.seq",
    )
    assert [(r[2], r[3]) for r in rows] == [(1, "paid"), (2, "due"), (3, "due")]
    assert rows[0][:2] == (12000, "plan")
    # The page shows the payment in the history; a second click pays nothing more.
    requests.post(checkout_url, timeout=10)
    [(count,)] = db_rows(
        stack,
        "SELECT COUNT(*) FROM payments p JOIN accounts a ON a.id = p.account_id "
        "WHERE a.external_id = 'E2E-US-60'",
    )
    assert count == 1
    page = requests.get(url, timeout=5)
    assert "Your payments" in page.text and "$60.00" in page.text


@pytest.fixture(scope="module")
def stripe_web(debtors):
    """A second web app on the same stack whose payment provider is Stripe, here a local
    Stripe-compatible server; the stack's workers deliver its messages."""
    stack = debtors
    fake = FakeStripe("sk_test_" + "e" * 24, "whsec_e2e_secret").start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "PUBLIC_BASE_URL": url,
        "PAYMENT_PROVIDER": "stripe",
        "STRIPE_SECRET_KEY": fake.secret_key,
        "STRIPE_WEBHOOK_SECRET": fake.webhook_secret,
        "STRIPE_API_BASE": fake.url,
    }
    saved, stack.env = stack.env, {**stack.env, **env}
    try:
        stack._spawn(
            "stripe-web",
            [
                str(BIN / "gunicorn"),
                "--bind",
                f"127.0.0.1:{port}",
                "--threads",
                "4",
                "bot:create_app()",
            ],
        )
    finally:
        stack.env = saved
    stack._wait(lambda: requests.get(url + "/healthz", timeout=1).ok, "stripe-web")
    yield url, fake
    fake.stop()


def test_chat_link_stripe_checkout_signed_webhook_thank_you(debtors, stripe_web):
    stack = debtors
    web, fake = stripe_web
    [ask] = turn(stack, VALERIA, "mandame el link de pago", 1)
    assert "4 dígitos" in ask
    _verified, link = turn(stack, VALERIA, "6161", 2)
    token = link_from(link).rsplit("/", 1)[1]
    url = f"{web}/pay/{token}"  # the same signed link, served by the Stripe-configured app
    assert "Pagar todo: $240.000" in requests.get(url, timeout=5).text
    start = requests.post(url + "/checkout", data={"option": "full"}, allow_redirects=False)
    assert start.status_code == 303 and start.headers["Location"].startswith(fake.url + "/c/pay/")
    [session_id] = fake.sessions
    assert fake.sessions[session_id]["amount_total"] == 24_000_000
    before = len(stack.twilio.to(f"whatsapp:{VALERIA}"))
    response = fake.complete(session_id, web + "/pay/webhooks/stripe")
    assert response.status_code == 200 and response.json() == {"outcome": "applied"}
    again = fake.complete(session_id, web + "/pay/webhooks/stripe")  # a new event, same session
    assert again.json() == {"outcome": "duplicate_payment"}
    [thanks] = stack.twilio.wait_for(f"whatsapp:{VALERIA}", before + 1)[before:]
    assert thanks["body"].startswith("¡Gracias! Recibimos tu pago de $240.000")
    assert "no tienes saldo pendiente" in thanks["body"]
    [(balance, status)] = db_rows(
        stack, "SELECT balance_minor, status FROM accounts WHERE external_id = 'E2E-CO-61'"
    )
    assert (balance, status) == (0, "paid")
    # The receipt and the paz y salvo, issued by the worker; then the payment is refunded from
    # Stripe's Dashboard: the debt is owed again and both documents are void.
    docs = "SELECT count(*) FROM documents d JOIN accounts a ON a.id = d.account_id"
    docs += " WHERE a.external_id = 'E2E-CO-61'"
    wait_for(lambda: db_rows(stack, docs)[0][0] >= 2, what="the receipt and paz y salvo")
    refunded = fake.deliver(fake.refund_event(session_id), web + "/pay/webhooks/stripe")
    assert refunded.status_code == 200 and refunded.json() == {"outcome": "reversed"}
    [(balance, status)] = db_rows(
        stack, "SELECT balance_minor, status FROM accounts WHERE external_id = 'E2E-CO-61'"
    )
    assert (balance, status) == (24_000_000, "open")
    assert db_rows(stack, docs + " AND d.revoked_at IS NULL") == [(0,)]
    forged = requests.post(
        web + "/pay/webhooks/stripe",
        data=b"{}",
        headers={"Stripe-Signature": "t=1,v1=00"},
        timeout=5,
    )
    assert forged.status_code == 403


# -- the page in a real browser ------------------------------------------------------------


def page_url(stack, external_id):
    [(account_id, debtor_id)] = db_rows(
        stack, "SELECT id, debtor_id FROM accounts WHERE external_id = :e", e=external_id
    )
    serializer = URLSafeTimedSerializer(stack.env["SECRET_KEY"], salt="payment-link")
    return f"{stack.base_url}/pay/{serializer.dumps({'a': account_id, 'd': debtor_id})}"


PHONE = {"width": 390, "height": 844}


def check_accessible(page, lang):
    assert page.locator("html").get_attribute("lang") == lang
    assert page.locator("h1").count() == 1
    assert page.locator("h2").count() >= 3
    # Every form control has a visible label tied to it.
    for control in page.locator("select, input[type=date]").all():
        control_id = control.get_attribute("id")
        assert page.locator(f"label[for='{control_id}']").is_visible()
    # Fits a phone: nothing scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


@pytest.mark.parametrize(
    ("external_id", "lang", "balance", "plan_label", "choice", "created"),
    [
        (
            TOMAS,
            "es",
            "$300.000",
            "Número de cuotas",
            "4 cuotas: primera de $75.000, luego $75.000 al mes",
            "Pagar la cuota 1 de 4: $75.000",
        ),
        (
            HENRY,
            "en",
            "$360.00",
            "Number of installments",
            "4 installments: first $90.00, then $90.00 a month",
            "Pay installment 1 of 4: $90.00",
        ),
    ],
)
def test_page_in_a_phone_browser(
    debtors, browser, external_id, lang, balance, plan_label, choice, created
):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        page.goto(page_url(debtors, external_id))
        check_accessible(page, lang)
        assert page.locator("#balance").inner_text() == balance
        page.get_by_label(plan_label).select_option(label=choice)
        page.locator("#plan-title + form button[type=submit]").click()
        page.wait_for_url(re.compile(r"done=plan"))
        assert page.get_by_role("status").is_visible()
        assert page.get_by_role("button", name=created).is_visible()
        check_accessible(page, lang)
        page.get_by_role("button", name=created).click()
        page.wait_for_url(re.compile(r"/pay/sandbox/checkout/"))
        assert page.locator("html").get_attribute("lang") == lang
        page.get_by_role("button").click()
        page.get_by_role("status").wait_for()
        page.get_by_role("link").first.click()
        page.wait_for_url(re.compile(r"paid=1"))
        assert created.split(": ")[1] in page.locator("#history-title + ul").inner_text()
    finally:
        context.close()
