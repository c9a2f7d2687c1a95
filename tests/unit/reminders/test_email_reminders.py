"""Reminders by e-mail: the debtor's preferred, authorised channel first, through the same
gate and the same send job, to a real SMTP server; a refused channel falls back by policy."""

from datetime import timedelta

import pytest

from bot.contact import consent
from bot.reminders import dispatching, planning, sending
from bot.testing.smtp import SmtpCatcher, text_and_html
from tests.unit.reminders.test_reminders import NOW, camila, rows

ADDRESS = "camila@example.com"


@pytest.fixture
def smtp(app):
    catcher = SmtpCatcher().start()
    app.config.update(catcher.config(), EMAIL_ENABLED=True, EMAIL_FROM="Cobros <c@acme.test>")
    app.extensions.pop("email_mailer", None)
    yield catcher
    app.extensions.pop("email_mailer", None)
    catcher.stop()


@pytest.fixture
def prefers_email(db, verified):
    debtor = camila(db)
    debtor.email, debtor.preferred_channel = ADDRESS, "email"
    at = NOW - timedelta(days=60)  # the test's NOW, whatever instant the suite runs at
    consent.record(db, debtor, "email", "granted", at, "import", "contract cl. 9", "t", now=NOW)
    db.commit()
    return debtor


def test_a_debtor_who_prefers_email_gets_the_reminder_by_email(
    db, prefers_email, smtp, twilio, buckets
):
    planning.plan(db, now=NOW)
    dispatching.dispatch(db, now=NOW, enqueue=False)
    [row] = rows(db, debtor_id=prefers_email.id)
    assert (row.status, row.channel) == ("queued", "email")
    sending.send(db, [row.id], twilio, buckets, now=NOW)
    assert twilio.messages.created == []
    [sent] = smtp.to(ADDRESS)
    text, html = text_and_html(sent)
    assert "Camila" in text and "/pay/" in text and html.startswith("<!DOCTYPE html>")
    [row] = rows(db, id=row.id)
    assert row.status == "sent" and row.contacted_at is not None


def test_an_email_opt_out_falls_back_to_the_next_channel(db, prefers_email, smtp, twilio, buckets):
    prefers_email.opted_out_email_at = NOW - timedelta(days=1)
    db.commit()
    planning.plan(db, now=NOW)
    dispatching.dispatch(db, now=NOW, enqueue=False)
    [row] = rows(db, debtor_id=prefers_email.id)
    assert row.status == "queued" and row.channel in ("whatsapp", "sms")
    sending.send(db, [row.id], twilio, buckets, now=NOW)
    assert smtp.to(ADDRESS) == [] and len(twilio.messages.created) == 1


def test_smtp_down_leaves_the_reminder_queued_for_the_retry(
    db, prefers_email, smtp, twilio, buckets
):
    planning.plan(db, now=NOW)
    dispatching.dispatch(db, now=NOW, enqueue=False)
    [row] = rows(db, debtor_id=prefers_email.id)
    smtp.stop()
    with pytest.raises(sending.ProviderUnavailable):
        sending.send(db, [row.id], twilio, buckets, now=NOW)
    smtp.start()
    sending.send(db, [row.id], twilio, buckets, now=NOW)
    assert len(smtp.to(ADDRESS)) == 1 and rows(db, id=row.id)[0].status == "sent"
