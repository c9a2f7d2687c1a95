"""End to end on the real stack: a debtor on a three-installment plan pays one by auto-debit
(Stripe's setup mode and an off-session charge: the real stripe library against a local fake),
one by Mercado Pago (Checkout Pro: the real mercadopago SDK against a local fake, a signed
notification), and the last by sending a photo of a transfer receipt on WhatsApp, which an agent
confirms in the console. Each payment brings a thank-you and a PDF receipt as a WhatsApp media
message; the last brings the paz y salvo, whose QR link says it is genuine, and a tampered link
says it is not."""

import re
import subprocess
from datetime import date
from pathlib import Path

import pytest
import requests
from itsdangerous import URLSafeTimedSerializer

from bot.testing import wait_for
from bot.testing.fake_mercadopago import FakeMercadoPago
from bot.testing.fake_stripe import FakeStripe
from bot.testing.stack import BIN, ROOT, free_port
from tests.e2e.test_pipeline import db_rows, turn

pytestmark = pytest.mark.e2e

DEBTORS = Path(__file__).parent / "debtors_rails.csv"
MARIANA = "+573015550701"  # es-CO, COP 300 000.00 in three installments of 100 000
ADDRESS = f"whatsapp:{MARIANA}"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8
PASSWORD = "agent password 123"


@pytest.fixture(scope="module")
def rails(stack):
    """A web app on the stack whose checkout is Mercado Pago and whose auto-debit is Stripe,
    both local fakes; the stack's workers deliver its messages and issue its documents."""
    stack._run("import-debts", str(DEBTORS))
    mp = FakeMercadoPago("TEST-mp-token", "mp-webhook-secret").start()
    stripe = FakeStripe("sk_test_" + "r" * 24, "whsec_rails_e2e").start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        "PUBLIC_BASE_URL": url,
        "PAYMENT_PROVIDER": "mercadopago",
        "MERCADOPAGO_ACCESS_TOKEN": mp.access_token,
        "MERCADOPAGO_WEBHOOK_SECRET": mp.webhook_secret,
        "MERCADOPAGO_API_BASE": mp.url,
        "AUTODEBIT_PROVIDER": "stripe",
        "STRIPE_SECRET_KEY": stripe.secret_key,
        "STRIPE_WEBHOOK_SECRET": stripe.webhook_secret,
        "STRIPE_API_BASE": stripe.url,
        "AUTODEBIT_FROM_HOUR": "0",  # the test runs at any hour
    }
    saved, stack.env = stack.env, {**stack.env, **env}
    try:
        stack._spawn(
            "rails-web",
            [
                str(BIN / "gunicorn"),
                "--bind",
                f"127.0.0.1:{port}",
                "--threads",
                "4",
                "bot:create_app()",
            ],
        )
        rails_env = dict(stack.env)
    finally:
        stack.env = saved
    stack._wait(lambda: requests.get(url + "/healthz", timeout=1).ok, "rails-web")
    yield type("Rails", (), {"url": url, "mp": mp, "stripe": stripe, "env": rails_env})
    mp.stop()
    stripe.stop()


def pay_page(stack, rails):
    [(account_id, debtor_id)] = db_rows(
        stack, "SELECT id, debtor_id FROM accounts WHERE external_id = 'E2E-CO-70'"
    )
    serializer = URLSafeTimedSerializer(stack.env["SECRET_KEY"], salt="payment-link")
    return f"{rails.url}/pay/{serializer.dumps({'a': account_id, 'd': debtor_id})}"


def new_messages(stack, before, count):
    found = stack.twilio.wait_for(ADDRESS, before + count)[before:]
    assert len(found) >= count, [m["body"] for m in found]
    return found


def documents_fetched(message):
    """The PDF Twilio fetched for a media message (status, type) once it has."""
    [fetched] = wait_for(lambda: message["media_fetched"], what="Twilio fetching the PDF")
    return fetched


def by_key(stack, before, count, *texts):
    """The next messages to Mariana, each found by a piece of its text."""
    found = new_messages(stack, before, count)
    picked = []
    for text in texts:
        [message] = [m for m in found if text in (m["body"] or "")]
        picked.append(message)
    return picked


def console(stack):
    """A signed-in agent's HTTP session on the stack's console."""
    stack._run("create-user", "rita@example.com", "--role", "agent", "--password", PASSWORD)
    session = requests.Session()
    login = session.get(stack.base_url + "/console/login", timeout=5).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
    signed_in = session.post(
        stack.base_url + "/console/login",
        data={"email": "rita@example.com", "password": PASSWORD, "csrf_token": token},
        timeout=5,
    )
    assert signed_in.ok and "Receipts" in signed_in.text
    return session


def test_autodebit_mercado_pago_and_a_receipt_photo_settle_the_debt(stack, rails):
    [hello, _ask] = turn(stack, MARIANA, "hola", 2)  # the debtor writes: WhatsApp's window opens
    assert hello.startswith("¡Hola!")
    url = pay_page(stack, rails)
    assert requests.post(url + "/plan", data={"count": "3"}, timeout=5).status_code == 200

    # 1. Auto-debit: she agrees to the schedule, saves a card, and the first installment (due
    #    today) is charged off-session by the auto-debit run.
    page = requests.get(url, timeout=5).text
    assert "Cuota 1: $100.000" in page and "Autorizo cobrar estas cuotas" in page
    start = requests.post(
        url + "/autodebit", data={"consent": "yes"}, allow_redirects=False, timeout=10
    )
    assert start.status_code == 303
    session_id = start.headers["Location"].rsplit("/", 1)[1]
    before = len(stack.twilio.to(ADDRESS))
    saved = rails.stripe.complete_setup(session_id, rails.url + "/pay/webhooks/stripe")
    assert saved.json() == {"outcome": "autodebit_active"}
    [active] = by_key(stack, before, 1, "activamos el pago automático")
    assert "Visa •••• 4242" in active["body"]
    before = len(stack.twilio.to(ADDRESS))
    ran = subprocess.run(
        [str(BIN / "flask"), "autodebit", "run"],
        cwd=ROOT,
        env=rails.env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert ran.stdout.startswith("1 charged"), ran.stdout + ran.stderr
    thanks, receipt = by_key(stack, before, 2, "Recibimos tu pago de $100.000", "recibo de tu pago")
    assert "Te queda por pagar $200.000" in thanks["body"]
    assert documents_fetched(receipt)[:2] == (200, "application/pdf")

    # 2. Mercado Pago: the next installment through Checkout Pro and a signed notification.
    chosen = requests.post(
        url + "/checkout", data={"option": "installment"}, allow_redirects=False, timeout=10
    )
    assert chosen.status_code == 303 and chosen.headers["Location"].startswith(rails.mp.url)
    [pref_id] = rails.mp.preferences
    assert rails.mp.preferences[pref_id]["items"][0]["unit_price"] == 100000
    payment = rails.mp.pay(pref_id, status="approved", payment_method_id="pse")
    before = len(stack.twilio.to(ADDRESS))
    notified = rails.mp.notify(payment["id"], url=rails.url + "/pay/webhooks/mercadopago")
    assert notified.status_code == 200 and notified.json() == {"outcome": "applied"}
    again = rails.mp.notify(payment["id"], url=rails.url + "/pay/webhooks/mercadopago")
    assert again.json() == {"outcome": "duplicate_event"}
    _thanks, receipt = by_key(
        stack, before, 2, "Recibimos tu pago de $100.000", "recibo de tu pago"
    )
    assert documents_fetched(receipt)[0] == 200

    # 3. A photo of a transfer receipt on WhatsApp: kept, acknowledged, queued for an agent.
    media_url = stack.twilio.add_media(JPEG, "image/jpeg")
    before = len(stack.twilio.to(ADDRESS))
    form = stack.inbound_form(
        MARIANA, "", NumMedia="1", MediaUrl0=media_url, MediaContentType0="image/jpeg"
    )
    assert stack.post(form).status_code == 200
    [ack] = by_key(stack, before, 1, "Recibimos tu comprobante")
    assert "$" not in ack["body"]  # it says nothing about the debt
    assert any(authorised for _path, authorised in stack.twilio.media_requests)
    agent = console(stack)
    listing = agent.get(stack.base_url + "/console/receipts/", timeout=5).text
    receipt_id = re.search(r'href="/console/receipts/(\d+)">Mariana', listing).group(1)
    view = agent.get(f"{stack.base_url}/console/receipts/{receipt_id}", timeout=5).text
    image = agent.get(f"{stack.base_url}/console/receipts/{receipt_id}/file", timeout=5)
    assert image.content == JPEG
    token = re.search(r'name="csrf_token" value="([^"]+)"', view).group(1)
    account_id = re.search(r'<option value="(\d+)" selected>', view).group(1)
    today = re.search(r'name="paid_on" max="([\d-]+)"', view).group(1)
    assert date.fromisoformat(today)
    before = len(stack.twilio.to(ADDRESS))
    confirmed = agent.post(
        f"{stack.base_url}/console/receipts/{receipt_id}/confirm",
        data={
            "account": account_id,
            "amount": "100000",
            "paid_on": today,
            "method": "Nequi",
            "csrf_token": token,
        },
        timeout=10,
    )
    assert confirmed.ok and "Receipt confirmed" in confirmed.text

    # 4. Settled: the thank-you, the last receipt and the paz y salvo, each PDF fetched by Twilio.
    thanks, _receipt, paz = by_key(
        stack, before, 3, "no tienes saldo pendiente", "recibo de tu pago", "paz y salvo"
    )
    assert documents_fetched(paz)[:2] == (200, "application/pdf")
    pdf = requests.get(paz["media_urls"][0], timeout=5)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    [verify_url] = re.findall(rb"/URI \((.*?)\)", pdf.content)
    genuine = requests.get(verify_url.decode(), timeout=5)
    assert genuine.status_code == 200 and "Documento auténtico" in genuine.text
    assert "Mariana" not in genuine.text and "300.000" not in genuine.text
    public_id, tag = verify_url.decode().rsplit("/", 1)[1].split(".")
    forged = tag[:-3] + ("abc" if not tag.endswith("abc") else "xyz")
    tampered = requests.get(f"{stack.base_url}/v/{public_id}.{forged}", timeout=5)
    assert tampered.status_code == 404 and "no auténtico" in tampered.text

    rows = db_rows(
        stack,
        "SELECT p.provider, p.amount_minor FROM payments p JOIN accounts a ON a.id = p.account_id "
        "WHERE a.external_id = 'E2E-CO-70' ORDER BY p.id",
    )
    assert rows == [("stripe", 10_000_000), ("mercadopago", 10_000_000), ("receipt", 10_000_000)]
    [(status, balance)] = db_rows(
        stack, "SELECT status, balance_minor FROM accounts WHERE external_id = 'E2E-CO-70'"
    )
    assert (status, balance) == ("paid", 0)
    kinds = db_rows(
        stack,
        "SELECT d.kind, COUNT(*) FROM documents d JOIN accounts a ON a.id = d.account_id "
        "WHERE a.external_id = 'E2E-CO-70' GROUP BY d.kind ORDER BY d.kind",
    )
    assert kinds == [("paz_y_salvo", 1), ("receipt", 3)]
    # The pay page offers the documents for download.
    page = requests.get(url, timeout=5).text
    assert "Tus documentos" in page and "Paz y salvo PS-" in page
