"""The signed e-mail webhooks: a debtor's reply stored once in their e-mail conversation (quoted
text stripped) and answered by e-mail in the same thread; bounces and complaints."""

import json

import pytest
from sqlalchemy import select

from bot import clock, statuses
from bot.conversations.email_inbound import new_words
from bot.models import ConsentRecord, Debtor, EmailEvent, Message
from bot.outbound import email
from bot.outbound.deliver import deliver
from bot.testing.smtp import SmtpCatcher
from bot.web.email import signature_for

ADDRESS = "camila@example.com"
REPLY = """Sí, pago el viernes.

Enviado desde mi iPhone

El lun, 30 nov 2026 a las 10:00, Acme <cobros@acme.test> escribió:
> Hola Camila, tu pago de $ 150.000 venció.
"""
MIME = (
    "From: Camila <Camila@Example.com>\r\nTo: cobros@acme.test\r\n"
    "Subject: Tu pago de $ 150.000\r\nMessage-ID: <abc123@mail.example.com>\r\n"
    "In-Reply-To: <em1.x@acme.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    "Puedo pagar la mitad hoy\r\n\r\nOn Mon, Nov 30, 2026 at 10:00 AM Acme wrote:\r\n> Hola\r\n"
)


def post(client, app, path, body, content_type="application/json", secret=None, stamp=None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    stamp = str(stamp if stamp is not None else int(clock.epoch()))
    sig = signature_for(secret or app.config["EMAIL_WEBHOOK_SECRET"], stamp, raw)
    return client.post(
        path,
        data=raw,
        content_type=content_type,
        headers={"X-Email-Timestamp": stamp, "X-Email-Signature": sig},
    )


@pytest.fixture
def camila(db, demo_debtors):
    debtor = db.execute(select(Debtor).where(Debtor.phone == "+573001234567")).scalar_one()
    debtor.email = ADDRESS
    db.commit()
    return debtor


def test_quoted_text_and_signatures_are_stripped():
    assert new_words(REPLY) == "Sí, pago el viernes."
    assert new_words("Ok\n\nOn Mon, Nov 30 at 10:00 Acme wrote:\n> x") == "Ok"
    assert new_words("Solo esto") == "Solo esto"


def test_a_reply_is_stored_once_in_the_debtors_email_conversation(app, client, db, camila):
    body = {
        "message_id": "<m1@mail.example.com>",
        "from": "Camila <camila@example.com>",
        "subject": "Re: tu pago",
        "text": REPLY,
    }
    first = post(client, app, "/webhooks/email/inbound", body)
    assert first.status_code == 200 and first.json["stored"] is True
    again = post(client, app, "/webhooks/email/inbound", body)
    assert again.json == {"stored": False, "message": first.json["message"]}
    message = db.get(Message, first.json["message"])
    assert message.body == "Sí, pago el viernes." and message.status == statuses.Inbound.RECEIVED
    assert message.conversation.channel == "email" and message.conversation.debtor_id == camila.id
    assert message.subject == "Re: tu pago"


def test_raw_mime_is_read_too(app, client, db, camila):
    response = post(client, app, "/webhooks/email/inbound", MIME.encode(), "message/rfc822")
    assert response.status_code == 200
    message = db.get(Message, response.json["message"])
    assert message.body == "Puedo pagar la mitad hoy"
    assert message.conversation.debtor_id == camila.id  # the address matched case-insensitively


def test_unsigned_stale_or_malformed_posts_are_refused(app, client, db, camila):
    body = {"message_id": "<m2@x>", "from": ADDRESS, "text": "hola"}
    assert post(client, app, "/webhooks/email/inbound", body, secret="wrong").status_code == 403
    old = int(clock.epoch()) - 3600
    assert post(client, app, "/webhooks/email/inbound", body, stamp=old).status_code == 403
    assert client.post("/webhooks/email/inbound", json=body).status_code == 403
    bad = {"message_id": "<m3@x>", "from": "not an address", "text": "hola"}
    assert post(client, app, "/webhooks/email/inbound", bad).status_code == 400
    assert post(client, app, "/webhooks/email/inbound", [1, 2]).status_code == 400
    assert db.execute(select(Message)).first() is None


def test_the_answer_goes_back_in_the_same_thread(app, db, client, camila):
    catcher = SmtpCatcher().start()
    try:
        app.config.update(catcher.config(), EMAIL_ENABLED=True)
        app.extensions.pop("email_mailer", None)
        post(client, app, "/webhooks/email/inbound", MIME.encode(), "message/rfc822")
        inbound = db.execute(select(Message)).scalar_one()
        reply = Message(
            conversation_id=inbound.conversation_id,
            direction=statuses.OUT,
            body="Claro, aquí tienes tu enlace.",
            status=statuses.Outbound.PENDING,
            reply_to_id=inbound.id,
            seq=0,
        )
        db.add(reply)
        db.commit()
        deliver(db, reply, None)
        [sent] = catcher.to(ADDRESS.replace("camila", "Camila"))
        assert sent["In-Reply-To"] == "<abc123@mail.example.com>"
        assert sent["Subject"] == "Re: Tu pago de $ 150.000"
        assert reply.status == email.SENT
    finally:
        app.extensions.pop("email_mailer", None)
        catcher.stop()


def test_bounces_and_complaints(app, client, db, camila):
    events = {
        "events": [
            {"id": "ev1", "type": "bounce", "email": ADDRESS, "bounce_type": "transient"},
            {
                "id": "ev2",
                "type": "bounce",
                "email": ADDRESS,
                "bounce_type": "permanent",
                "detail": "550 5.1.1 user unknown",
            },
            {"id": "ev3", "type": "complaint", "email": ADDRESS},
        ]
    }
    response = post(client, app, "/webhooks/email/events", events)
    assert response.json == {"applied": 3, "duplicates": 0}
    assert post(client, app, "/webhooks/email/events", events).json["duplicates"] == 3
    db.expire_all()
    assert camila.email_undeliverable_at is not None and camila.opted_out_email_at is not None
    record = db.execute(select(ConsentRecord).where(ConsentRecord.channel == "email")).scalar_one()
    assert record.method == "complaint" and "ev3" in record.evidence
    kinds = sorted(db.execute(select(EmailEvent.kind)).scalars())
    assert kinds == ["bounce", "complaint", "soft_bounce"]
    bad = {"events": [{"id": "ev4", "type": "open", "email": ADDRESS}]}
    assert post(client, app, "/webhooks/email/events", bad).status_code == 400
