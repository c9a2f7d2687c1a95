"""Identity verification: the form validator and what follows it."""

from rasa_sdk.events import ActionExecuted, FollowupAction, SessionStarted, SlotSet

from bot.conversations import contact, verification
from bot.debts import accounts

from .claims import record_dispute
from .clarify import MAIN_CHOICES
from .context import (
    BotAction,
    BotFormValidation,
    conversation_scope,
    first_name,
    say,
    say_with_choices,
    today_for,
)
from .offers import ActionOfferDiscount
from .payments import send_payment_link


class ActionSessionStart(BotAction):
    """Start a session with the verified slot read from the database."""

    def name(self):
        return "action_session_start"

    def act(self, dispatcher, tracker, domain):
        with conversation_scope(tracker) as (_s, conversation):
            verified = bool(conversation and verification.is_verified(conversation))
        return [
            SessionStarted(),
            SlotSet("verified", verified),
            ActionExecuted("action_listen"),
        ]


class ActionGreet(BotAction):
    """Greet an unverified debtor (revealing nothing) and forget any earlier request, so what
    follows verification is the help menu."""

    def name(self):
        return "action_greet"

    def act(self, dispatcher, tracker, domain):
        say(dispatcher, "greet")
        return [SlotSet("pending_request", None), SlotSet("pending_text", None)]


class ActionRememberRequest(BotAction):
    """Remember what the debtor asked for, to answer it once verified."""

    def name(self):
        return "action_remember_request"

    def act(self, dispatcher, tracker, domain):
        return [
            SlotSet("pending_request", tracker.latest_message["intent"].get("name")),
            SlotSet("pending_text", tracker.latest_message.get("text")),
        ]


class ValidateVerificationForm(BotFormValidation):
    def name(self):
        return "validate_verification_form"

    async def validate_id_digits(self, slot_value, dispatcher, tracker, domain):
        with conversation_scope(tracker) as (s, conversation):
            if conversation is None:
                return {"id_digits": None}
            outcome, left = verification.attempt(s, conversation, str(slot_value or ""))
            if outcome != "invalid_format":
                message_id = (tracker.latest_message.get("metadata") or {}).get("message_id")
                verification.redact_answer(s, message_id)
            name = first_name(conversation)
            minutes = verification.minutes_locked(conversation)
        if outcome == "verified":
            say(dispatcher, "verify.ok", first_name=name)
            return {"id_digits": "verified", "verified": True}
        if outcome == "locked":
            say(dispatcher, "verify.locked", minutes=minutes)
            return {"id_digits": "locked", "verified": False}
        if outcome == "failed":
            say(dispatcher, "verify.failed", attempts_left=left)
        return {"id_digits": None}


class ActionVerificationDone(BotAction):
    """After the form: answer the pending request, start its form, or offer help."""

    def name(self):
        return "action_verification_done"

    def act(self, dispatcher, tracker, domain):
        reset = [SlotSet("id_digits", None), SlotSet("pending_request", None)]
        if tracker.get_slot("id_digits") != "verified":
            return reset + [SlotSet("pending_text", None)]
        pending = tracker.get_slot("pending_request")
        kind, what = verification.next_step(pending)
        if kind == "form":
            if what == "promise_form":
                # pending_request stays set: the form needs to know a promise from a deferral.
                return [SlotSet("id_digits", None), FollowupAction(what)]
            # The words are kept meanwhile (pending_text): the form reads them.
            return reset + [FollowupAction(what)]
        if what == "dispute":
            record_dispute(dispatcher, tracker)
        elif what == "discount":
            ActionOfferDiscount().act(dispatcher, tracker, domain)
        elif what == "payment_link":
            send_payment_link(dispatcher, tracker)
        else:
            with conversation_scope(tracker) as (s, conversation):
                if what == "balance" and conversation and conversation.debtor_id:
                    today = today_for(conversation)
                    for message in accounts.balance_messages(s, conversation.debtor_id, today):
                        say(dispatcher, message["template"], **message["vars"])
                else:
                    say_with_choices(dispatcher, "help.menu", MAIN_CHOICES)
        ask_consent(dispatcher, tracker)
        return reset + [SlotSet("pending_text", None)]


CONSENT_CHOICES = [
    {"title_template": "button.consent_yes", "payload": "/give_consent"},
    {"title_template": "button.consent_no", "payload": "/deny"},
]


def ask_consent(dispatcher, tracker):
    """Where the law needs the debtor's authorisation per channel (Colombia) and this channel
    has none, ask once, after the answer the debtor came for."""
    with conversation_scope(tracker) as (s, conversation):
        ask = conversation is not None and contact.consent_to_ask(s, conversation)
    if ask:
        say_with_choices(dispatcher, "consent.ask", CONSENT_CHOICES)


class ActionAskIdDigits(BotAction):
    """The form's question; while verification is locked, say so instead of asking."""

    def name(self):
        return "action_ask_id_digits"

    def act(self, dispatcher, tracker, domain):
        with conversation_scope(tracker) as (_s, conversation):
            minutes = verification.minutes_locked(conversation) if conversation else 0
        if minutes:
            say(dispatcher, "verify.locked", minutes=minutes)
        else:
            say(dispatcher, "verify.ask")
        return []
