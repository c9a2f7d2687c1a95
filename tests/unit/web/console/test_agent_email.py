"""An agent answers an e-mail thread from the console: the debtor's subject above the message,
the address masked, the reply sent by SMTP in the same thread."""

from sqlalchemy import select

from bot import statuses
from bot.conversations import handover
from bot.conversations.email_inbound import InboundEmail, store_email
from bot.conversations.escalation import mark_for_agent
from bot.models import Debtor, Message
from bot.outbound.deliver import deliver
from bot.testing.smtp import SmtpCatcher, text_and_html
from tests.console import form_token
from tests.unit.web.console.test_agent import client_for, people  # noqa: F401 (fixture)


def test_an_agent_answers_an_email_thread(app, db, demo_debtors, people):  # noqa: F811
    catcher = SmtpCatcher().start()
    app.config.update(catcher.config(), EMAIL_ENABLED=True)
    app.extensions.pop("email_mailer", None)
    try:
        debtor = db.execute(select(Debtor).where(Debtor.phone == "+573001234567")).scalar_one()
        mail = InboundEmail("<q1@mail.example.com>", debtor.email, "Mi cuenta", "Quiero un plan")
        inbound, created = store_email(db, mail, 4096)
        assert created
        conversation = inbound.conversation
        mark_for_agent(db, conversation, "asked_for_agent")
        db.commit()
        assert handover.claim(db, conversation.id, people["ana"])
        db.commit()
        client = client_for(app, "ana")
        url = f"/console/conversations/{conversation.id}"
        page = client.get(url).get_data(as_text=True)
        assert "c***@example.com" in page and "Mi cuenta" in page and "Quiero un plan" in page
        token = form_token(client, url)
        response = client.post(
            f"{url}/reply", data={"csrf_token": token, "text": "Claro, te propongo 3 cuotas."}
        )
        assert response.status_code in (302, 303)
        row = db.execute(
            select(Message).where(Message.direction == statuses.OUT)
        ).scalar_one()  # the worker's job, run here
        deliver(db, row, None)
        [sent] = catcher.to(debtor.email)
        assert sent["Subject"] == "Re: Mi cuenta"
        assert sent["In-Reply-To"] == "<q1@mail.example.com>"
        assert "3 cuotas" in text_and_html(sent)[0]
    finally:
        app.extensions.pop("email_mailer", None)
        catcher.stop()
