"""The chat's action for documents: only a verified debtor gets them, sent as media now."""

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.documents import ActionSendDocuments, which
from bot.clock import utcnow
from bot.conversations import verification
from bot.models import Account, Message
from bot.payments import reconcile as payments
from tests.unit.actions.test_actions import run, templates_sent, tracker


def ask(conversation, text):
    dispatcher = CollectingDispatcher()
    events = run(ActionSendDocuments().run(dispatcher, tracker(conversation, text=text), {}))
    return templates_sent(dispatcher), events


def test_documents_only_after_verification(db, conversation):
    said, events = ask(conversation, "mandame el paz y salvo")
    assert [t for t, _ in said] == ["verify.ask"] and events[0]["value"] is False


def test_the_paz_y_salvo_is_sent_once_the_debt_is_paid(db, conversation):
    conversation.verified_at = verification.utcnow()
    conversation.last_inbound_at = utcnow()
    db.commit()
    said, _ = ask(conversation, "mandame el paz y salvo")
    assert said == [
        ("document.not_settled", {"amount": {"amount": "150000.00", "currency": "COP"}})
    ]
    account = db.execute(select(Account).where(Account.external_id == "DEMO-CO-001")).scalar_one()
    payments.apply_payment(db, account, account.balance_minor, "sandbox", "cs_1")
    db.commit()
    said, _ = ask(conversation, "mandame el paz y salvo")
    assert said == [("document.sending", {})]
    [sent] = db.execute(
        select(Message).where(Message.template_key == "document.paz_y_salvo")
    ).scalars()
    assert sent.media[0]["content_type"] == "application/pdf"


def test_what_the_debtor_asks_for():
    assert which("necesito el paz y salvo") == "paz_y_salvo"
    assert which("send me a certificate of settlement") == "paz_y_salvo"
    assert which("el recibo del pago") == "receipt"
    assert which("mis documentos") == "all"
