"""E-mail through a real SMTP server (aiosmtpd): multipart text + HTML from the template store,
the one-click unsubscribe, outages retried, refused addresses never written to again."""

import pytest
from sqlalchemy import select

from bot import clock, statuses
from bot.contact.decision import may_contact
from bot.models import ConsentRecord, Conversation
from bot.outbound import compose, email
from bot.outbound.deliver import ProviderUnavailable, deliver
from bot.testing.smtp import SmtpCatcher, text_and_html

ADDRESS = "camila.rojas@example.com"
VARIABLES = {
    "first_name": "Camila",
    "amount": {"amount": "150000.00", "currency": "COP"},
    "reference": "A-1001",
    "url": "https://bot.example.test/pay/abc",
}


@pytest.fixture
def smtp(app):
    catcher = SmtpCatcher().start()
    app.config.update(catcher.config(), EMAIL_ENABLED=True, EMAIL_FROM="Cobros <cobros@acme.test>")
    app.config["CREDITOR_NAME"] = "Acme Finanzas"
    app.extensions.pop("email_mailer", None)
    yield catcher
    app.extensions.pop("email_mailer", None)
    catcher.stop()


@pytest.fixture
def inbox(db, demo_debtors):
    """Camila's e-mail conversation."""
    from bot.models import Debtor

    debtor = db.execute(select(Debtor).where(Debtor.phone == "+573001234567")).scalar_one()
    debtor.email = ADDRESS
    conv = Conversation(channel="email", address=ADDRESS, debtor=debtor)
    db.add(conv)
    db.commit()
    return conv


def _send(db, conversation, key=None, variables=None, body=None):
    row = compose.queue_outbound(db, conversation, key, variables, body=body, purpose="requested")
    db.commit()
    deliver(db, row, None)
    return row


def test_a_template_goes_as_text_and_html_with_one_click_unsubscribe(app, db, smtp, inbox):
    row = _send(db, inbox, "reminder.due.friendly", VARIABLES)
    assert row.status == email.SENT
    [sent] = smtp.to(ADDRESS)
    assert sent.get_content_type() == "multipart/alternative"
    assert sent["Subject"] == row.subject and "150.000" in sent["Subject"]
    assert sent["From"] == "Cobros <cobros@acme.test>"
    assert sent["Message-ID"] == f"<{row.provider_sid}@acme.test>"
    assert sent["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = sent["List-Unsubscribe"].strip("<>")
    assert url.startswith("https://bot.example.test/email/unsubscribe/")
    text, html = text_and_html(sent)
    assert "Camila" in text and url in text and "Acme Finanzas" in text
    assert '<html lang="es"' in html and f'href="{url}"' in html
    assert 'style="' in html  # the CSS is inlined for clients that drop <style>
    assert 'href="https://bot.example.test/pay/abc"' in html
    assert "cobranza" in text  # who writes and why


def test_free_text_is_escaped_and_gets_the_default_subject(app, db, smtp, inbox):
    _send(db, inbox, body="Hola <b>Camila</b>, paga en https://bot.example.test/pay/x")
    [sent] = smtp.to(ADDRESS)
    assert sent["Subject"] == "Acme Finanzas: mensaje sobre tu cuenta"
    _text, html = text_and_html(sent)
    assert "&lt;b&gt;Camila&lt;/b&gt;" in html and "<b>Camila" not in html
    assert 'href="https://bot.example.test/pay/x"' in html


def test_one_click_unsubscribe_records_the_opt_out_with_evidence(app, db, client, smtp, inbox):
    _send(db, inbox, body="Hola")
    url = smtp.to(ADDRESS)[0]["List-Unsubscribe"].strip("<>")
    path = url.removeprefix(app.config["PUBLIC_BASE_URL"])
    # Opening the link (a scanner, a preview) changes nothing: only the POST does.
    assert client.get(path).status_code == 200
    assert inbox.debtor.opted_out_email_at is None
    response = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 204
    db.expire_all()
    assert inbox.debtor.opted_out_email_at is not None
    record = db.execute(select(ConsentRecord).where(ConsentRecord.channel == "email")).scalar_one()
    assert record.action == "revoked" and "RFC 8058" in record.evidence
    assert ADDRESS not in record.evidence  # only a hash of the address
    decision = may_contact(db, inbox.debtor, "email", clock.utcnow(), "requested")
    assert decision.reason == "opted_out_email"
    # Twice is harmless; the page's button records it too; a forged token is refused.
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 204
    assert client.post(path).status_code == 200
    assert client.post("/email/unsubscribe/forged").status_code == 404


def test_smtp_down_is_retried_and_nothing_is_lost(app, db, smtp, inbox):
    smtp.stop()
    row = compose.queue_outbound(db, inbox, body="Hola", purpose="requested")
    db.commit()
    with pytest.raises(ProviderUnavailable):
        deliver(db, row, None)
    assert row.status == statuses.Outbound.PENDING  # certainly not sent: sent again later
    smtp.start()
    app.extensions.pop("email_mailer", None)
    deliver(db, row, None)
    assert row.status == email.SENT and len(smtp.to(ADDRESS)) == 1


def test_a_refused_address_is_never_written_to_again(app, db, smtp, inbox):
    smtp.refuse.add(ADDRESS)
    row = _send(db, inbox, body="Hola")
    assert (row.status, row.error_code) == (statuses.Outbound.FAILED, "smtp:550")
    assert inbox.debtor.email_undeliverable_at is not None
    decision = may_contact(db, inbox.debtor, "email", clock.utcnow(), "requested")
    assert decision.reason == "email_undeliverable"


def test_an_unsubscribe_token_names_the_debtor_and_nothing_readable(app):
    with app.app_context():
        token = email.unsubscribe_token(7, ADDRESS)
        assert "camila" not in token.lower()
        assert email.read_unsubscribe_token(token)[0] == 7
        assert email.read_unsubscribe_token(token[:-2] + "xx") is None
