"""E-mail in the browser (Debian's Chromium): an admin edits a key's e-mail version and
previews it (rendered HTML beside the text); an agent answers an e-mail thread."""

import uuid

import pytest

from bot.testing import wait_for
from tests.e2e.test_email import post_signed
from tests.e2e.test_pipeline import db_rows

pytestmark = pytest.mark.e2e
PASSWORD = "email console password 1"
PABLO = "pablo.rios@example.com"
CSV = (
    "external_id,full_name,phone,country,locale,currency,amount_due,due_date,id_last4,email,"
    "segment,consent_whatsapp,consent_sms,consent_email,consent_at,consent_method,"
    "consent_evidence\n"
    "E2E-EM-2,Pablo Ríos,3005550198,CO,es-CO,COP,99000.00,2026-11-01,1357,pablo.rios@example.com,"
    'e2e,no,no,yes,2025-06-01,contract,"Contrato, cláusula 9: correo (e2e)"\n'
)


def sign_in(stack, page, email, role):
    stack._run("create-user", email, "--role", role, "--password", PASSWORD)
    page.goto(stack.base_url + "/console/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")


def test_an_admin_edits_and_previews_an_email_template(stack, page):
    sign_in(stack, page, "mail-admin@example.com", "admin")
    page.goto(stack.base_url + "/console/admin/templates/reminder.upcoming.friendly")
    page.click("a:has-text('E-mail version (es)')")
    # The live version, rendered: the HTML in a sandboxed frame beside the text.
    html = page.frame_locator("#preview-html")
    assert "Pagar ahora" in html.locator("a.button").inner_text()
    assert "Puedes pagar aquí" in page.inner_text("#preview-text")
    page.fill("#email-subject", "Recordatorio: {amount} vence el {due_date}")
    page.click("#email-preview")
    subject = page.inner_text("#preview-subject")
    assert subject.startswith("Recordatorio: ") and " vence el " in subject
    assert "/email/unsubscribe/" in html.locator(".footer a").get_attribute("href")
    page.click("#email-save")
    page.wait_for_selector("text=Published e-mail version 2")
    rows = db_rows(
        stack,
        "SELECT version, subject, source FROM email_templates WHERE key = "
        "'reminder.upcoming.friendly' AND locale = 'es' ORDER BY version",
    )
    assert rows[-1] == (2, "Recordatorio: {amount} vence el {due_date}", "admin")


def test_an_agent_answers_an_email_thread(stack, page, tmp_path):
    path = tmp_path / "pablo.csv"
    path.write_text(CSV, encoding="utf-8")
    stack._run("import-debts", str(path))
    sign_in(stack, page, "mail-agent@example.com", "agent")
    page.wait_for_selector("table.queue")
    message_id = f"<{uuid.uuid4().hex}@mail.example.com>"
    response = post_signed(
        stack,
        "/webhooks/email/inbound",
        {
            "message_id": message_id,
            "from": f"Pablo <{PABLO}>",
            "subject": "Necesito ayuda",
            "text": "quiero hablar con una persona por favor",
        },
    )
    assert response.status_code == 200
    # The bot answers by e-mail that a person will take it; the queue shows it.
    wait_for(lambda: stack.smtp.to(PABLO), 90, what="the hand-over e-mail")
    page.wait_for_selector("#queue-body tr:has-text('Pablo Ríos')", timeout=30_000)
    assert "p***@example.com" in page.inner_text("#queue-body tr:has-text('Pablo Ríos')")
    page.click("#queue-body a:has-text('Pablo Ríos')")
    page.click("#claim")
    page.wait_for_selector("text=Claimed: the bot is paused")
    assert "Necesito ayuda" in page.inner_text("#messages")
    before = len(stack.smtp.to(PABLO))
    page.fill("#reply-text", "Hola Pablo, soy Mía. Te ayudo con tu cuenta por aquí.")
    page.click("form.reply button[type=submit]")
    sent = wait_for(lambda: stack.smtp.to(PABLO)[before:], 60, what="the agent's e-mail")[0]
    assert sent["Subject"] == "Re: Necesito ayuda"
    assert sent["In-Reply-To"] == message_id
    assert "soy Mía" in sent.get_body(preferencelist=("plain",)).get_content()
