"""Disputes ("that is not my debt") and already-paid claims: recorded for an agent."""

from datetime import date

from rasa_sdk.events import SlotSet

from bot.debts import claims, parsing

from .context import BotAction, BotFormValidation, conversation_scope, listen, say, today_for

UNKNOWN = "unknown"
_DONT_KNOW = (
    "no se",
    "no sé",
    "no recuerdo",
    "no me acuerdo",
    "ni idea",
    "no tengo idea",
    "dont know",
    "don't know",
    "not sure",
    "no idea",
    "don't remember",
    "dont remember",
    "can't remember",
    "cant remember",
)


def debtor_words(tracker):
    """What the debtor wrote when raising it (kept from before verification, if any)."""
    return tracker.get_slot("pending_text") or tracker.latest_message.get("text") or ""


def record_dispute(dispatcher, tracker):
    with conversation_scope(tracker) as (s, conversation):
        if conversation is not None and conversation.debtor_id:
            claims.open_dispute(s, conversation, debtor_words(tracker), actor="debtor")
    say(dispatcher, "dispute.recorded")


class ActionRecordDispute(BotAction):
    def name(self):
        return "action_record_dispute"

    def act(self, dispatcher, tracker, domain):
        record_dispute(dispatcher, tracker)
        return [SlotSet("pending_text", None)] + listen()


def _dont_know(text):
    plain = (text or "").lower()
    return any(phrase in plain for phrase in _DONT_KNOW)


class ValidatePaymentClaimForm(BotFormValidation):
    def name(self):
        return "validate_payment_claim_form"

    async def validate_claim_date(self, slot_value, dispatcher, tracker, domain):
        if _dont_know(slot_value):
            return {"claim_date": UNKNOWN}
        with conversation_scope(tracker) as (_s, conversation):
            today = today_for(conversation)  # "ayer" is the debtor's yesterday
        day = parsing.parse_past_date(str(slot_value), today)
        if day is None:
            say(dispatcher, "claim.date_unclear")
            return {"claim_date": None}
        return {"claim_date": day.isoformat()}

    async def validate_claim_amount(self, slot_value, dispatcher, tracker, domain):
        if _dont_know(slot_value):
            return {"claim_amount": UNKNOWN}
        with conversation_scope(tracker) as (_s, conversation):
            accounts = conversation.debtor.accounts if conversation and conversation.debtor else []
            currency = accounts[0].currency if accounts else "USD"
        minor = parsing.parse_amount(str(slot_value), currency)
        if minor is None:
            say(dispatcher, "claim.amount_unclear")
            return {"claim_amount": None}
        return {"claim_amount": str(minor)}


class ActionRecordPaymentClaim(BotAction):
    def name(self):
        return "action_record_payment_claim"

    def act(self, dispatcher, tracker, domain):
        claimed_date = tracker.get_slot("claim_date")
        amount = tracker.get_slot("claim_amount")
        with conversation_scope(tracker) as (s, conversation):
            if conversation is not None and conversation.debtor_id:
                claims.claim_payment(
                    s,
                    conversation,
                    None if claimed_date in (None, UNKNOWN) else date.fromisoformat(claimed_date),
                    None if amount in (None, UNKNOWN) else int(amount),
                    debtor_words(tracker),
                    actor="debtor",
                )
        say(dispatcher, "claim.recorded")
        return [
            SlotSet("claim_date", None),
            SlotSet("claim_amount", None),
            SlotSet("pending_text", None),
        ] + listen()


class ActionAskClaimDate(BotAction):
    def name(self):
        return "action_ask_claim_date"

    def act(self, dispatcher, tracker, domain):
        say(dispatcher, "claim.ask_date")
        return []


class ActionAskClaimAmount(BotAction):
    def name(self):
        return "action_ask_claim_amount"

    def act(self, dispatcher, tracker, domain):
        say(dispatcher, "claim.ask_amount")
        return []
