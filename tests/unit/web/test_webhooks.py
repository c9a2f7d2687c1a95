import pytest
from redis import Redis
from rq import Queue
from sqlalchemy import func, select

from bot.models import Conversation, Message
from bot.tasks import queues

PATH = "/webhooks/twilio/messages"


def inbound_form(sid="SM" + "a" * 32, sender="whatsapp:+573001234567", body="hola", **extra):
    form = {
        "MessageSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": sender,
        "To": "whatsapp:+14155238886",
        "Body": body,
        "NumMedia": "0",
    }
    form.update(extra)
    return {k: v for k, v in form.items() if v is not None}


def post_signed(client, sign, form, path=PATH):
    return client.post(path, data=form, headers={"X-Twilio-Signature": sign(path, form)})


def count(db, model):
    return db.execute(select(func.count()).select_from(model)).scalar()


def inbound_jobs(app):
    return Queue(queues.INBOUND, connection=Redis.from_url(app.config["REDIS_URL"])).count


def test_signed_inbound_is_stored_enqueued_and_answered_with_empty_twiml(app, client, db, sign):
    response = post_signed(client, sign, inbound_form())
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    assert response.data.endswith(b"<Response></Response>")
    message = db.execute(select(Message)).scalar_one()
    assert (message.direction, message.status, message.body) == ("in", "received", "hola")
    conversation = db.get(Conversation, message.conversation_id)
    assert (conversation.channel, conversation.address) == ("whatsapp", "+573001234567")
    assert conversation.last_inbound_at is not None
    assert inbound_jobs(app) == 1


def test_sms_and_button_payload(client, db, sign):
    form = inbound_form(sender="+573001234567", body="Ver saldo", ButtonPayload="/ask_balance")
    assert post_signed(client, sign, form).status_code == 200
    message = db.execute(select(Message)).scalar_one()
    assert message.conversation.channel == "sms"
    assert message.button_payload == "/ask_balance"


@pytest.mark.parametrize("signature", [None, "", "bm90IGEgc2lnbmF0dXJl"])
def test_missing_or_wrong_signature_is_403_and_stores_nothing(app, client, db, signature):
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    response = client.post(PATH, data=inbound_form(), headers=headers)
    assert response.status_code == 403
    assert count(db, Message) == 0 and count(db, Conversation) == 0
    assert inbound_jobs(app) == 0


def test_signature_over_another_url_is_rejected(client, db, sign):
    form = inbound_form()
    signature = sign("/webhooks/twilio/status", form)
    response = client.post(PATH, data=form, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403
    assert count(db, Message) == 0


def test_tampered_body_is_rejected(client, db, sign):
    form = inbound_form()
    signature = sign(PATH, form)
    form["Body"] = "otra cosa"
    assert (
        client.post(PATH, data=form, headers={"X-Twilio-Signature": signature}).status_code == 403
    )


def test_repeat_delivery_is_acknowledged_once(app, client, db, sign):
    for _ in range(5):
        assert post_signed(client, sign, inbound_form()).status_code == 200
    assert count(db, Message) == 1
    assert inbound_jobs(app) == 1


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        (inbound_form(sender=None), b"From is missing"),
        (inbound_form(sender="messenger:12345"), b"unknown channel"),
        (inbound_form(sender="whatsapp:12345"), b"E.164"),
        (inbound_form(sender="whatsapp:+999"), b"valid phone"),
        (inbound_form(body="x" * 5000), b"longer than"),
        (inbound_form(sid=None), b"MessageSid"),
    ],
)
def test_malformed_input_is_400(app, client, db, sign, form, reason):
    response = post_signed(client, sign, form)
    assert response.status_code == 400
    assert reason in response.data
    assert count(db, Message) == 0
    assert inbound_jobs(app) == 0


def test_oversized_request_is_4xx_not_500(client, sign):
    form = inbound_form(body="x" * 300_000)
    response = post_signed(client, sign, form)
    assert 400 <= response.status_code < 500


def test_redis_down_still_stores_and_acknowledges(app, client, db, sign, monkeypatch):
    # Redis refuses connections from here on (nothing listens on port 1): the sweep finds it.
    monkeypatch.setattr(queues, "redis_conn", lambda: Redis.from_url("redis://127.0.0.1:1/0"))
    assert post_signed(client, sign, inbound_form()).status_code == 200
    assert db.execute(select(Message)).scalar_one().status == "received"


def outbound(db, sid="SM" + "b" * 32, status="queued"):
    conversation = Conversation(channel="whatsapp", address="+573001234567")
    db.add(conversation)
    db.flush()
    row = Message(
        conversation_id=conversation.id, direction="out", provider_sid=sid, body="x", status=status
    )
    db.add(row)
    db.commit()
    return row


def post_status(client, sign, sid, status, **extra):
    form = {"MessageSid": sid, "MessageStatus": status, **extra}
    return post_signed(client, sign, form, "/webhooks/twilio/status")


def test_status_moves_forward_never_backward(client, db, sign):
    row = outbound(db)
    assert post_status(client, sign, row.provider_sid, "sent").status_code == 204
    assert post_status(client, sign, row.provider_sid, "delivered").status_code == 204
    assert post_status(client, sign, row.provider_sid, "sent").status_code == 204
    db.expire_all()
    assert db.get(Message, row.id).status == "delivered"
    post_status(client, sign, row.provider_sid, "read")
    db.expire_all()
    assert db.get(Message, row.id).status == "read"


def test_failed_status_keeps_error_code_and_flags_agents(client, db, sign):
    row = outbound(db)
    post_status(client, sign, row.provider_sid, "undelivered", ErrorCode="63016")
    db.expire_all()
    row = db.get(Message, row.id)
    assert (row.status, row.error_code) == ("undelivered", "63016")
    assert row.conversation.needs_agent and row.conversation.agent_reason == "delivery_failure"


def test_status_callback_requires_signature_and_fields(client, db, sign):
    row = outbound(db)
    form = {"MessageSid": row.provider_sid, "MessageStatus": "delivered"}
    assert client.post("/webhooks/twilio/status", data=form).status_code == 403
    assert post_status(client, sign, row.provider_sid, "").status_code == 400
    assert post_status(client, sign, "SM" + "c" * 32, "delivered").status_code == 202


def test_callback_that_beats_the_api_response_is_applied_later(app, client, db, sign):
    from bot.outbound.status import apply_early_status

    sid = "SM" + "d" * 32
    assert post_status(client, sign, sid, "delivered").status_code == 202
    row = outbound(db, sid=None, status="sending")
    with app.app_context():
        row.provider_sid, row.status = sid, "queued"
        db.commit()
        apply_early_status(db, row)
    db.expire_all()
    assert db.get(Message, row.id).status == "delivered"


def test_a_stale_row_cannot_move_a_status_backwards(app, db):
    from bot.outbound import status

    row = outbound(db, status="queued")
    with app.app_context():
        status.apply_status(db, row.provider_sid, "delivered")
        row.status = "queued"  # what a thread that read the row earlier still holds in memory
        db.expire_all()
        status._apply(db, db.get(Message, row.id), "sent", None)
    db.expire_all()
    assert db.get(Message, row.id).status == "delivered"


def test_a_debt_imported_after_the_first_message_is_linked(app, client, db, sign):
    post_signed(client, sign, inbound_form(sid="SM1"))
    conversation = db.execute(select(Conversation)).scalar_one()
    assert conversation.debtor_id is None
    from bot.debts.imports import import_csv
    from tests.conftest import DEMO_CSV

    with DEMO_CSV.open("rb") as fh:
        import_csv(db, fh)
    post_signed(client, sign, inbound_form(sid="SM2"))
    db.expire_all()
    assert db.get(Conversation, conversation.id).debtor.full_name == "Camila Rodríguez"


def test_sandbox_endpoints_answer_only_this_machine(app, client):
    app.config["SANDBOX"] = True
    assert client.get("/simulator").status_code == 200
    remote = {"REMOTE_ADDR": "203.0.113.7"}
    assert client.get("/simulator", environ_base=remote).status_code == 403
    path = "/sandbox/twilio/2010-04-01/Accounts/AC1/Messages.json"
    assert client.post(path, environ_base=remote).status_code == 403
    app.config["SANDBOX"] = False
    assert client.get("/simulator").status_code == 404


def test_a_mexican_whatsapp_number_with_the_old_mobile_1_is_read_as_52(client, db, sign):
    form = inbound_form(sender="whatsapp:+5215512345678")
    assert post_signed(client, sign, form).status_code == 200
    message = db.execute(select(Message)).scalar_one()
    assert message.conversation.address == "+525512345678"


def test_a_list_pickers_choice_is_its_payload(client, db, sign):
    form = inbound_form(
        body="Pagar en cuotas", ListId="/request_installments\x00", ListTitle="Cuotas"
    )
    assert post_signed(client, sign, form).status_code == 200
    assert db.execute(select(Message)).scalar_one().button_payload == "/request_installments"


def test_a_shared_location_is_kept_as_media(client, db, sign):
    form = inbound_form(body="", Latitude="4.60971", Longitude="-74.08175")
    assert post_signed(client, sign, form).status_code == 200
    assert db.execute(select(Message)).scalar_one().media == [
        {"url": None, "content_type": "location"}
    ]


def test_control_characters_in_a_message_are_dropped_not_stored(client, db, sign):
    form = inbound_form(body="ho\x00la\x07 ", ButtonPayload="/affirm\x00")
    assert post_signed(client, sign, form).status_code == 200
    message = db.execute(select(Message)).scalar_one()
    assert (message.body, message.button_payload) == ("hola", "/affirm")


@pytest.mark.parametrize(
    "sid", ["SM\x00" + "a" * 30, "SM" + "a" * 70, "SM\nab", ""], ids=["nul", "long", "br", "none"]
)
def test_a_message_sid_from_outside_is_checked_before_the_database(client, db, sign, sid):
    response = post_signed(client, sign, inbound_form(sid=sid))
    assert response.status_code == 400 and b"MessageSid" in response.data
    assert count(db, Message) == 0


@pytest.mark.parametrize(
    "extra",
    [
        {"MessageSid": "SM\x00x", "MessageStatus": "delivered"},
        {"MessageSid": "SM" + "b" * 32, "MessageStatus": "deliv\x00ered"},
        {"MessageSid": "SM" + "b" * 32, "MessageStatus": "failed", "ErrorCode": "3" * 40},
    ],
)
def test_a_status_callback_with_odd_values_is_400(client, sign, extra):
    response = post_signed(client, sign, extra, path="/webhooks/twilio/status")
    assert response.status_code == 400


def test_a_signature_over_the_url_with_its_default_port_is_accepted(app, client, db):
    """Twilio signs some requests over https://host:443/...: both forms are valid."""
    from twilio.request_validator import RequestValidator

    form = inbound_form()
    url = app.config["PUBLIC_BASE_URL"].replace(".test", ".test:443") + PATH
    signature = RequestValidator(app.config["TWILIO_AUTH_TOKEN"]).compute_signature(url, form)
    response = client.post(PATH, data=form, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200 and count(db, Message) == 1


def test_a_message_reopens_a_closed_conversation_and_keeps_an_agents_hold(client, db, sign):
    post_signed(client, sign, inbound_form(sid="SM1"))
    conversation = db.execute(select(Conversation)).scalar_one()
    conversation.state = "closed"
    db.commit()
    post_signed(client, sign, inbound_form(sid="SM2"))
    db.expire_all()
    assert db.get(Conversation, conversation.id).state == "bot"
    conversation.state = "agent"  # an agent took it meanwhile: the webhook leaves that alone
    db.commit()
    post_signed(client, sign, inbound_form(sid="SM3"))
    db.expire_all()
    conversation = db.get(Conversation, conversation.id)
    assert conversation.state == "agent" and count(db, Message) == 3
    assert conversation.last_inbound_at == max(
        m.created_at for m in db.execute(select(Message)).scalars()
    )


def test_a_status_callback_that_moves_forward_is_one_update(app, client, db, sign):
    from sqlalchemy import event

    row = outbound(db, status="queued")
    statements = []
    engine = app.extensions["db"].engine

    def seen(conn, cursor, statement, *args):
        statements.append(statement.split()[0].upper())

    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert post_status(client, sign, row.provider_sid, "delivered").status_code == 204
        moved = list(statements)
        statements.clear()
        # Behind: nothing moves, and only then is the SID looked up (known: 204).
        assert post_status(client, sign, row.provider_sid, "sent").status_code == 204
        behind = list(statements)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert moved == ["UPDATE"]
    assert behind == ["UPDATE", "SELECT"]
    db.expire_all()
    assert db.get(Message, row.id).status == "delivered"
