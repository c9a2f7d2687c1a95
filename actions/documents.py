"""The debtor asks for a receipt or a certificate ("mándame el paz y salvo", "send me my
receipt"), only once verified.

Issue 13's documents (PDF receipts, paz y salvo: `bot.payments.documents.send_on_request`) are
built on another branch, with an action of this same name that sends them at once; until they
land, a person on the team sends the document (the request is the queue reason they see)."""

from rasa_sdk.events import SlotSet

from bot.conversations import verification
from bot.conversations.escalation import mark_for_agent

from .context import BotAction, conversation_scope, listen, say


def send_documents(dispatcher, tracker):
    """Queue the request for a person; False when the debtor is not verified."""
    reason = tracker.get_slot("pending_request") or (
        (tracker.latest_message.get("intent") or {}).get("name")
    )
    if reason not in ("request_receipt", "request_certificate"):
        reason = "request_receipt"
    with conversation_scope(tracker) as (s, conversation):
        if conversation is None or not verification.is_verified(conversation):
            return False
        mark_for_agent(s, conversation, reason)
    say(dispatcher, "document.requested")
    return True


class ActionSendDocuments(BotAction):
    def name(self):
        return "action_send_documents"

    def act(self, dispatcher, tracker, domain):
        if not send_documents(dispatcher, tracker):
            say(dispatcher, "verify.ask")
            return [SlotSet("verified", False)]
        return listen()
