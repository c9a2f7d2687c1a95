"""Stopping messages in the chat (one channel, then the one question, or all) and consent given
in the chat: recorded with the debtor's own words in the consent register."""

from datetime import timedelta

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions import context
from actions.handoff import (
    ActionOptOut,
    ActionOptOutAll,
    ActionOptOutOnlyThis,
    ActionRecordConsent,
)
from actions.verification import ActionVerificationDone
from bot.clock import utcnow
from bot.contact import consent
from bot.models import ConsentRecord, Conversation, Debtor, Message
from tests.unit.actions.test_actions import run, templates_sent, tracker


@pytest.fixture
def conversation(app, conversation):
    context._app = app
    yield conversation
    context._app = None


def said(db, conversation, text):
    """The debtor's message as the worker stores it before Rasa answers."""
    db.add(Message(conversation_id=conversation.id, direction="in", body=text, status="received"))
    db.commit()


def act(action, conversation, intent, text=""):
    dispatcher = CollectingDispatcher()
    run(action.run(dispatcher, tracker(conversation, intent=intent, text=text), {}))
    return templates_sent(dispatcher), dispatcher


def debtor_of(db, conversation):
    db.expire_all()
    return db.get(Conversation, conversation.id).debtor


def records(db):
    """What the chat recorded (the demo file's own consent records left out)."""
    return (
        db.execute(
            select(ConsentRecord).where(ConsentRecord.method != "import").order_by(ConsentRecord.id)
        )
        .scalars()
        .all()
    )


def test_a_stop_keeps_the_words_and_asks_once_whether_all_channels_are_meant(db, conversation):
    said(db, conversation, "ya no me escriban por aca por favor")
    sent, dispatcher = act(ActionOptOut(), conversation, "opt_out")
    assert sent == [("opt_out.confirmed_ask_all", {})]
    payloads = [b["payload"] for b in dispatcher.messages[0]["custom"]["buttons"]]
    assert payloads == ["/opt_out_all", "/deny"]
    debtor = debtor_of(db, conversation)
    assert debtor.opted_out_whatsapp_at is not None and debtor.opted_out_sms_at is None
    [record] = records(db)
    assert (record.channel, record.action, record.scope) == ("whatsapp", "revoked", "channel")
    assert record.evidence == "ya no me escriban por aca por favor"
    assert record.message_id is not None
    # "No, only this channel": the others stay; the question is not asked again.
    sent, _ = act(ActionOptOutOnlyThis(), conversation, "deny")
    assert sent == [("opt_out.only_this_channel", {})]
    answered = debtor_of(db, conversation)
    assert answered.opted_out_sms_at is None and answered.opt_out_scope_answered_at is not None
    sms = Conversation(channel="sms", address=conversation.address, debtor_id=debtor.id)
    db.add(sms)
    db.commit()
    sent, _ = act(ActionOptOut(), sms, "opt_out")
    assert sent == [("opt_out.confirmed", {})]


def test_yes_to_the_question_stops_every_channel(db, conversation):
    said(db, conversation, "stop")
    act(ActionOptOut(), conversation, "opt_out")
    said(db, conversation, "si")
    sent, _ = act(ActionOptOutAll(), conversation, "affirm")
    assert sent == [("opt_out.all_confirmed", {})]
    debtor = debtor_of(db, conversation)
    assert None not in (
        debtor.opted_out_whatsapp_at,
        debtor.opted_out_sms_at,
        debtor.opted_out_email_at,
    )
    assert [(r.channel, r.scope, r.evidence) for r in records(db)] == [
        ("whatsapp", "channel", "stop"),
        ("sms", "all", "si"),
        ("email", "all", "si"),
    ]


def test_a_clear_all_stops_everything_at_any_time(db, conversation):
    said(db, conversation, "no me contacten por ningún medio ni por sms ni por correo")
    sent, _ = act(ActionOptOutAll(), conversation, "opt_out_all")
    assert sent == [("opt_out.all_confirmed", {})]
    assert {r.channel for r in records(db)} == {"whatsapp", "sms", "email"}


def test_a_yes_that_answers_no_stop_question_is_not_a_stop(db, conversation):
    sent, _ = act(ActionOptOutAll(), conversation, "affirm")
    assert sent == [("help.menu", {})]
    assert records(db) == []
    sent, _ = act(ActionOptOutOnlyThis(), conversation, "deny")
    assert sent == [("help.menu", {})]


def test_an_old_question_is_no_longer_open(db, conversation):
    act(ActionOptOut(), conversation, "opt_out")
    debtor = debtor_of(db, conversation)
    debtor.opt_out_scope_asked_at = utcnow() - timedelta(days=2)
    db.commit()
    sent, _ = act(ActionOptOutAll(), conversation, "affirm")
    assert sent == [("help.menu", {})]


def _no_consent_on_file(db):
    db.execute(ConsentRecord.__table__.delete())
    db.commit()


def test_colombia_asks_consent_once_after_verification_and_records_it(db, conversation):
    _no_consent_on_file(db)  # the demo file authorises both channels: start without it
    slots = {"id_digits": "verified", "pending_request": None}
    dispatcher = CollectingDispatcher()
    run(ActionVerificationDone().run(dispatcher, tracker(conversation, slots), {}))
    sent = templates_sent(dispatcher)
    assert sent[-1] == ("consent.ask", {})
    assert [b["payload"] for b in dispatcher.messages[-1]["custom"]["buttons"]] == [
        "/give_consent",
        "/deny",
    ]
    dispatcher = CollectingDispatcher()
    run(ActionVerificationDone().run(dispatcher, tracker(conversation, slots), {}))
    assert ("consent.ask", {}) not in templates_sent(dispatcher)  # asked once
    said(db, conversation, "Sí, autorizo")
    sent, _ = act(ActionRecordConsent(), conversation, "give_consent")
    assert sent == [("consent.recorded", {})]
    debtor = debtor_of(db, conversation)
    assert consent.granted_channels(db, [debtor.id])[debtor.id] == {"whatsapp"}
    [record] = records(db)
    assert record.method == "chat" and record.evidence.startswith(
        "Sí, autorizo (answer to consent.ask"
    )


def test_no_consent_question_where_the_law_does_not_ask_or_consent_exists(db, conversation):
    slots = {"id_digits": "verified", "pending_request": None}
    dispatcher = CollectingDispatcher()
    run(ActionVerificationDone().run(dispatcher, tracker(conversation, slots), {}))
    assert ("consent.ask", {}) not in templates_sent(dispatcher)  # the import authorised it
    _no_consent_on_file(db)
    debtor = db.get(Debtor, conversation.debtor_id)
    debtor.country = "MX"
    db.commit()
    dispatcher = CollectingDispatcher()
    run(ActionVerificationDone().run(dispatcher, tracker(conversation, slots), {}))
    assert ("consent.ask", {}) not in templates_sent(dispatcher)
