"""Sandbox mode without an SMTP host: e-mails are kept for the simulator, which shows them
beside what the debtor wrote."""

from sqlalchemy import select

from bot.models import Conversation, Debtor, SandboxMessage
from bot.outbound import compose, email
from bot.outbound.deliver import deliver


def test_sandbox_keeps_emails_and_the_simulator_shows_them(app, db, client, demo_debtors):
    app.config.update(SANDBOX=True, EMAIL_ENABLED=True, EMAIL_SMTP_HOST=None)
    app.extensions.pop("email_mailer", None)
    debtor = db.execute(select(Debtor).where(Debtor.phone == "+573001234567")).scalar_one()
    conversation = Conversation(channel="email", address=debtor.email, debtor=debtor)
    db.add(conversation)
    db.commit()
    row = compose.queue_outbound(db, conversation, body="Hola Camila", purpose="requested")
    db.commit()
    deliver(db, row, None)
    assert row.status == email.SENT
    kept = db.execute(select(SandboxMessage)).scalar_one()
    assert kept.to == "camila@example.com" and "Hola Camila" in kept.body
    assert kept.body.startswith("localhost: mensaje sobre tu cuenta")  # the subject on top
    shown = client.get("/simulator/messages?phone=%2B573001234567&channel=email").json
    assert [m["from"] for m in shown["messages"]] == ["bot"]
    assert "Hola Camila" in shown["messages"][0]["body"]
    # A demo debtor without an address cannot be written to by e-mail.
    assert client.get("/simulator/messages?phone=%2B525512345678&channel=email").status_code == 400
    app.extensions.pop("email_mailer", None)
