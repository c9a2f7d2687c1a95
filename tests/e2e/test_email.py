"""E-mail on the real stack: a debtor's e-mail reply goes through the signed inbound webhook,
the worker and Rasa, and the bot's answer reaches the real SMTP server (aiosmtpd) in the same
thread; its one-click unsubscribe then stops e-mail for good."""

import json
import time
import uuid

import pytest
import requests

from bot.testing import wait_for
from bot.testing.smtp import text_and_html
from bot.web.email import signature_for

pytestmark = pytest.mark.e2e
ADDRESS = "lucia.gomez@example.com"
CSV = (
    "external_id,full_name,phone,country,locale,currency,amount_due,due_date,id_last4,email,"
    "segment,preferred_channel,consent_whatsapp,consent_sms,consent_email,consent_at,"
    "consent_method,consent_evidence\n"
    "E2E-EM-1,Lucía Gómez,3005550199,CO,es-CO,COP,210000.00,2026-11-01,2468,"
    "Lucia.Gomez@Example.com,"
    'e2e,email,no,no,yes,2025-06-01,contract,"Contrato, cláusula 9: correo (e2e)"\n'
)


def post_signed(stack, path, body):
    raw = json.dumps(body).encode()
    stamp = str(int(time.time()))
    signature = signature_for(stack.env["EMAIL_WEBHOOK_SECRET"], stamp, raw)
    return requests.post(
        stack.base_url + path,
        data=raw,
        headers={
            "Content-Type": "application/json",
            "X-Email-Timestamp": stamp,
            "X-Email-Signature": signature,
        },
        timeout=10,
    )


def test_an_email_reply_is_answered_by_email_and_unsubscribe_works(stack, tmp_path):
    path = tmp_path / "email.csv"
    path.write_text(CSV, encoding="utf-8")
    stack._run("import-debts", str(path))
    [(stored,)] = stack.query("SELECT email FROM debtors WHERE phone = '+573005550199'")
    assert stored == "Lucia.Gomez@example.com"  # normalised: the domain in lower case
    stack.smtp.reset()
    message_id = f"<{uuid.uuid4().hex}@mail.example.com>"
    reply = (
        "Hola, ¿cuánto debo?\n\nEl lun, 30 nov 2026 a las 10:00, Cobranzas "
        "<cobros@acme.test> escribió:\n> Hola Lucía\n"
    )
    response = post_signed(
        stack,
        "/webhooks/email/inbound",
        {
            "message_id": message_id,
            "from": "Lucía <Lucia.Gomez@example.com>",
            "subject": "Mi cuenta",
            "text": reply,
        },
    )
    assert response.status_code == 200, response.text
    [(body, channel)] = stack.query(
        "SELECT m.body, c.channel FROM messages m JOIN conversations c ON c.id = m.conversation_id"
        " WHERE m.id = :id",
        id=response.json()["message"],
    )
    assert (body, channel) == ("Hola, ¿cuánto debo?", "email")
    # The worker asks Rasa and the answer leaves by SMTP, in the same thread.
    answers = wait_for(
        lambda: stack.smtp.to("Lucia.Gomez@example.com"), 90, what="the bot's e-mail answer"
    )
    answer = answers[0]
    assert answer["In-Reply-To"] == message_id
    assert answer["Subject"] == "Re: Mi cuenta"
    text, html = text_and_html(answer)
    assert text.strip() and "<html" in html
    stack.settled()
    # One-click unsubscribe (RFC 8058), as a mail client posts it.
    url = answer["List-Unsubscribe"].strip().strip("<>")
    assert answer["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    done = requests.post(url, data={"List-Unsubscribe": "One-Click"}, timeout=10)
    assert done.status_code == 204
    [(opted_out,)] = stack.query(
        "SELECT opted_out_email_at FROM debtors WHERE phone = '+573005550199'"
    )
    assert opted_out is not None
    # Hers only: the stack is shared, and other tests' debtors stop every channel too.
    [(evidence,)] = stack.query(
        "SELECT r.evidence FROM consent_records r JOIN debtors d ON d.id = r.debtor_id"
        " WHERE r.channel = 'email' AND r.action = 'revoked' AND d.phone = '+573005550199'"
    )
    assert "RFC 8058" in evidence
