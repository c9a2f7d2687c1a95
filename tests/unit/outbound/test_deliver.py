"""A message with a file goes to Twilio as MediaUrl (only on WhatsApp, only as free text)."""

import pytest

from bot import clock
from bot.db import get_db
from bot.models import Conversation, Message, TemplateKey
from bot.outbound import compose, deliver
from bot.outbound.twilio_client import make_client
from bot.testing import wait_for
from bot.testing.fake_twilio import FakeTwilio

PDF = [
    {
        "url": "https://bot.example.test/documents/t/recibo-RC-000001.pdf",
        "content_type": "application/pdf",
    }
]


@pytest.fixture
def twilio_api(app):
    fake = FakeTwilio(
        app.config["TWILIO_ACCOUNT_SID"], app.config["TWILIO_AUTH_TOKEN"], callbacks=False
    )
    fake.start()
    app.config["TWILIO_API_BASE_URL"] = fake.url
    yield fake
    fake.stop()


def test_a_whatsapp_message_carries_its_file(app, db, conversation, twilio_api):
    conversation.last_inbound_at = clock.utcnow()
    db.commit()
    row = compose.queue_outbound(
        db, conversation, "document.sending", {}, purpose="requested", media=PDF
    )
    db.commit()
    assert deliver.create_params(row)["media_url"] == [PDF[0]["url"]]
    deliver.deliver(db, row, make_client(app.config))
    [sent] = twilio_api.messages
    assert sent["media_urls"] == [PDF[0]["url"]] and sent["body"] == row.body
    # Twilio fetches the file itself; here the URL leads nowhere, and the fake says so.
    [(status, _kind, _size)] = wait_for(lambda: sent["media_fetched"], what="the fetch")
    assert status is None or status >= 400


def test_no_media_on_sms_or_with_an_approved_template(app, db, conversation):
    sms = Conversation(channel="sms", address=conversation.address, debtor=conversation.debtor)
    db.add(sms)
    db.commit()
    row = compose.queue_outbound(db, sms, "document.sending", {}, purpose="requested", media=PDF)
    assert row.media is None and "media_url" not in deliver.create_params(row)
    conversation.last_inbound_at = None  # the window is closed: only the template goes
    db.get(TemplateKey, "document.sending").content_sid = "HX" + "0" * 32
    db.commit()
    row = compose.queue_outbound(
        db, conversation, "document.sending", {}, purpose="requested", media=PDF
    )
    assert row.content_sid and row.media is None


def _sends(result):
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("bot_sends_total", {"result": result}) or 0


def test_sends_are_counted_by_result(app, db, conversation, twilio_api):
    from twilio.base.exceptions import TwilioRestException

    conversation.last_inbound_at = clock.utcnow()
    db.commit()
    sent, refused, retry = _sends("sent"), _sends("refused"), _sends("retry")
    row = compose.queue_outbound(db, conversation, "document.sending", {}, purpose="requested")
    db.commit()
    deliver.deliver(db, row, make_client(app.config))
    assert _sends("sent") == sent + 1
    for status, code, result, before in (
        (400, 21211, "refused", refused),
        (503, None, "retry", retry),
    ):
        row = compose.queue_outbound(db, conversation, "document.sending", {}, purpose="requested")
        row.status = "sending"
        error = TwilioRestException(status, "uri", msg="no", code=code)
        deliver.record_outcome(db, row, None, error)
        db.rollback()
        assert _sends(result) == before + 1


def test_two_jobs_that_read_the_same_pending_row_send_it_once(app, db, conversation, twilio_api):
    conversation.last_inbound_at = clock.utcnow()
    db.commit()
    row = compose.queue_outbound(db, conversation, "document.sending", {}, purpose="requested")
    db.commit()
    client = make_client(app.config)
    # A second job (a re-enqueued one, whose Redis lock was lost) read the row while pending.
    other = get_db().Session()
    try:
        stale = other.get(Message, row.id)
        deliver.deliver(db, row, client)
        deliver.deliver(other, stale, client)  # its claim finds the row taken: no request
        other.refresh(stale)
        assert stale.status == "queued" and stale.attempts == 1
    finally:
        other.close()
    assert len(twilio_api.messages) == 1
