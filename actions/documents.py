"""The debtor asks for their documents ("mándame el paz y salvo", "send me my receipt"): they are
sent now as WhatsApp media (bot.payments.documents); only to a verified debtor (after
verification, the request made before it is answered in the same turn)."""

import re

from rasa_sdk.events import SlotSet
from sqlalchemy import select

from bot import statuses
from bot.conversations import verification
from bot.models import Account, Payment
from bot.payments import documents

from .context import BotAction, conversation_scope, listen, say

PAZ = re.compile(r"paz|salvo|certif|settle", re.IGNORECASE)
RECEIPT = re.compile(r"recibo|receipt|comprobante", re.IGNORECASE)


def which(text):
    """What the debtor asks for: "paz_y_salvo", "receipt" or "all"."""
    text = text or ""
    if PAZ.search(text):
        return "paz_y_salvo"
    return "receipt" if RECEIPT.search(text) else "all"


def account_for_documents(session, debtor_id):
    """The debt the documents are about: the one paid most recently, else the oldest owing."""
    paid = session.execute(
        select(Account)
        .join(Payment, Payment.account_id == Account.id)
        .where(Account.debtor_id == debtor_id)
        .order_by(Payment.received_at.desc(), Payment.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if paid is not None:
        return paid
    return session.execute(
        select(Account)
        .where(Account.debtor_id == debtor_id, Account.status.in_(statuses.Account.OWING))
        .order_by(Account.due_date, Account.id)
        .limit(1)
    ).scalar_one_or_none()


def send_documents(dispatcher, tracker):
    """Send the documents the debtor asked for (the words kept from before verification, if
    any); False when the debtor is not verified."""
    with conversation_scope(tracker) as (s, conversation):
        if conversation is None or not verification.is_verified(conversation):
            return False
        account = account_for_documents(s, conversation.debtor_id)
        words = tracker.get_slot("pending_text") or tracker.latest_message.get("text")
        said = [("document.none", {})]
        if account is not None:
            said = documents.send_on_request(s, account, which(words))
    for key, variables in said:
        say(dispatcher, key, **variables)
    return True


class ActionSendDocuments(BotAction):
    def name(self):
        return "action_send_documents"

    def act(self, dispatcher, tracker, domain):
        if not send_documents(dispatcher, tracker):
            say(dispatcher, "verify.ask")
            return [SlotSet("verified", False)]
        return listen()
