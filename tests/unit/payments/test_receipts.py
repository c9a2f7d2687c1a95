"""A receipt photo or PDF sent on WhatsApp: stored with the message, fetched from (a local fake
of) Twilio with the account's credentials, checked for type and size, kept, and queued for an
agent; the debtor is answered once."""

import pytest
from redis import Redis
from rq import Queue
from sqlalchemy import func, select

from bot.conversations import turn
from bot.models import Conversation, Message, PaymentReceipt, StoredFile
from bot.payments import media, receipts
from bot.tasks import queues
from bot.testing.fake_twilio import FakeTwilio
from tests.unit.web.test_webhooks import inbound_form, post_signed

JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + b"\x00" * 200
PDF = b"%PDF-1.4\n" + b"x" * 300
PHONE = "+573001234567"  # Camila, a demo debtor


@pytest.fixture
def twilio_api(app):
    """A Twilio-compatible server holding inbound media behind the account's credentials."""
    fake = FakeTwilio(app.config["TWILIO_ACCOUNT_SID"], app.config["TWILIO_AUTH_TOKEN"]).start()
    app.config["TWILIO_API_BASE_URL"] = fake.url
    yield fake
    fake.stop()


def send_media(client, sign, db, items, body="", sid="SM" + "m" * 32):
    """Post Twilio's inbound webhook with media [(url, type)]; return the stored message."""
    extra = {"NumMedia": str(len(items))}
    for i, (url, content_type) in enumerate(items):
        extra[f"MediaUrl{i}"] = url
        extra[f"MediaContentType{i}"] = content_type
    form = inbound_form(sid=sid, sender=f"whatsapp:{PHONE}", body=body, **extra)
    assert post_signed(client, sign, form).status_code == 200
    return db.execute(select(Message).where(Message.provider_sid == sid)).scalar_one()


def test_a_receipt_photo_becomes_a_payment_to_verify(
    app, client, db, sign, conversation, twilio_api
):
    url = twilio_api.add_media(JPEG, "image/jpeg")
    message = send_media(client, sign, db, [(url, "image/jpeg")])
    assert message.media == [{"url": url, "content_type": "image/jpeg"}]
    jobs = Queue(queues.INBOUND, connection=Redis.from_url(app.config["REDIS_URL"])).jobs
    assert [(j.func_name.rsplit(".", 1)[1], j.args) for j in jobs] == [
        ("process_inbound", (message.id,)),
        ("receive_media", (message.id,)),
    ]
    [receipt] = receipts.receive(db, message)
    db.commit()
    assert receipt.status == "pending" and receipt.content_type == "image/jpeg"
    stored = db.get(StoredFile, receipt.file_id)
    assert stored.data == JPEG and stored.size == len(JPEG)
    assert receipt.account.external_id == "DEMO-CO-001"  # her oldest debt, suggested
    # Fetched with the account's credentials, from the base standing in for api.twilio.com.
    [(path, authorised)] = twilio_api.media_requests
    assert authorised and path == url.split("api.twilio.com", 1)[1]
    conv = db.get(Conversation, message.conversation_id)
    assert (conv.needs_agent, conv.agent_reason) == (True, "receipt")
    [ack] = db.execute(select(Message).where(Message.template_key == "receipt.received")).scalars()
    assert "Recibimos tu comprobante" in ack.body and "150.000" not in ack.body


def test_a_retried_job_stores_nothing_twice_and_answers_once(
    app, client, db, sign, conversation, twilio_api
):
    url = twilio_api.add_media(PDF, "application/pdf")
    message = send_media(client, sign, db, [(url, "application/pdf")])
    receipts.receive(db, message)
    db.commit()
    receipts.receive(db, message)
    db.commit()
    assert db.execute(select(func.count(PaymentReceipt.id))).scalar() == 1
    assert db.execute(select(func.count(StoredFile.id))).scalar() == 1
    answers = db.execute(
        select(func.count(Message.id)).where(Message.template_key == "receipt.received")
    ).scalar()
    assert answers == 1


@pytest.mark.parametrize(
    ("data", "declared", "problem"),
    [
        (b"OggS" + b"\x00" * 50, "audio/ogg", "unsupported_type"),  # a voice note
        (b"<svg onload=alert(1)>", "image/jpeg", "unsupported_type"),  # lies about its type
        (JPEG + b"\x00" * 2048, "image/jpeg", "too_large"),
    ],
)
def test_files_that_are_not_receipts_are_kept_out(
    app, client, db, sign, conversation, twilio_api, data, declared, problem
):
    app.config["RECEIPT_MAX_BYTES"] = 1024
    url = twilio_api.add_media(data, declared)
    message = send_media(client, sign, db, [(url, declared)])
    [receipt] = receipts.receive(db, message)
    db.commit()
    assert (receipt.status, receipt.problem, receipt.file_id) == ("unusable", problem, None)
    assert db.execute(select(StoredFile)).first() is None
    [ack] = db.execute(select(Message).where(Message.template_key == "receipt.unusable")).scalars()
    assert "foto" in ack.body and "PDF" in ack.body
    # The agent still sees that something came in.
    assert db.get(Conversation, message.conversation_id).agent_reason == "receipt"


def test_media_from_anywhere_but_twilio_is_not_fetched(
    app, client, db, sign, conversation, twilio_api
):
    message = send_media(client, sign, db, [("https://evil.example/x.jpg", "image/jpeg")])
    [receipt] = receipts.receive(db, message)
    assert receipt.problem == "not_twilio_media"
    assert twilio_api.media_requests == []


def test_twilio_down_is_retried_then_kept_for_an_agent(
    app, client, db, sign, conversation, twilio_api
):
    url = twilio_api.add_media(JPEG, "image/jpeg")
    message = send_media(client, sign, db, [(url, "image/jpeg")])
    twilio_api.stop()
    with pytest.raises(media.MediaUnavailable):
        receipts.receive(db, message, final_attempt=False)
    db.rollback()
    assert db.execute(select(PaymentReceipt)).first() is None
    [receipt] = receipts.receive(db, message, final_attempt=True)
    assert (receipt.status, receipt.problem) == ("unusable", "fetch_failed")


def test_two_files_in_one_message(app, client, db, sign, conversation, twilio_api):
    items = [
        (twilio_api.add_media(JPEG, "image/jpeg"), "image/jpeg"),
        (twilio_api.add_media(PDF, "application/pdf"), "application/pdf"),
    ]
    message = send_media(client, sign, db, items, body="aqui el pago")
    found = receipts.receive(db, message)
    assert [(r.media_index, r.content_type) for r in found] == [
        (0, "image/jpeg"),
        (1, "application/pdf"),
    ]


def test_an_unknown_number_can_send_a_receipt_too(app, client, db, sign, twilio_api):
    url = twilio_api.add_media(JPEG, "image/jpeg")
    form = inbound_form(
        sid="SM" + "u" * 32, sender="whatsapp:+573009999999", body="", NumMedia="1", MediaUrl0=url
    )
    assert post_signed(client, sign, form).status_code == 200
    message = db.execute(select(Message)).scalar_one()
    [receipt] = receipts.receive(db, message)
    assert receipt.status == "pending" and receipt.debtor_id is None and receipt.account_id is None


def test_no_automatic_answer_while_an_agent_holds_the_conversation(
    app, client, db, sign, conversation, twilio_api
):
    conversation.state = "agent"
    db.commit()
    url = twilio_api.add_media(JPEG, "image/jpeg")
    message = send_media(client, sign, db, [(url, "image/jpeg")])
    receipts.receive(db, message)
    assert db.execute(select(Message).where(Message.template_key.like("receipt.%"))).first() is None


@pytest.mark.parametrize(
    "extra",
    [
        {"NumMedia": "eleven"},
        {"NumMedia": "11"},
        {"NumMedia": "1"},  # no MediaUrl0
        {"NumMedia": "1", "MediaUrl0": "ftp://x"},
    ],
)
def test_malformed_media_fields_are_a_400(client, db, sign, extra):
    form = inbound_form(**extra)
    response = post_signed(client, sign, form)
    assert response.status_code == 400 and b"Media" in response.data
    assert db.execute(select(Message)).first() is None


def test_a_photo_without_words_is_not_sent_to_rasa(
    app, client, db, sign, conversation, twilio_api, monkeypatch
):
    url = twilio_api.add_media(JPEG, "image/jpeg")
    message = send_media(client, sign, db, [(url, "image/jpeg")])

    def no_rasa(*args, **kwargs):
        raise AssertionError("Rasa was asked about a photo")

    monkeypatch.setattr(turn.rasa_client, "send", no_rasa)
    turn._answer(db, message, lock=None, client=None)
    assert message.status == "processed"
