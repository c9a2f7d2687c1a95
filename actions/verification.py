"""Identity verification: the form validator and what follows it."""

from rasa_sdk.events import ActionExecuted, FollowupAction, SessionStarted, SlotSet

from bot.conversations import contact, verification, waiting

from .balance import tell_balance, tell_breakdown, tell_creditor
from .claims import record_dispute
from .context import (
    BotAction,
    BotFormValidation,
    app,
    conversation_scope,
    first_name,
    listen,
    say,
    say_with_choices,
)
from .documents import send_documents
from .menu import say_menu
from .offers import ActionOfferDiscount
from .payments import send_payment_link

# Intents whose words may carry the ID digits though they are not an answer ("uy me
# equivoqué, es 4812" read as a wrong number): the digits still count as the answer.
_NOT_AN_ANSWER = ("wrong_number", "third_party", "change_number", "request_callback", "deny")


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


def still_in_line(tracker):
    """The "still in line" message when the debtor waits for a person, else None."""
    with conversation_scope(tracker) as (s, conversation):
        if conversation is None or not waiting.is_waiting(conversation):
            return None
        return waiting.still_waiting_message(s, app().config, conversation)


class ActionGreet(BotAction):
    """Greet an unverified debtor (revealing nothing) and forget any earlier request, so what
    follows verification is the help menu."""

    def name(self):
        return "action_greet"

    def act(self, dispatcher, tracker, domain):
        reset = [SlotSet("pending_request", None), SlotSet("pending_text", None)]
        waiting_message = still_in_line(tracker)
        if waiting_message is not None:  # "hola?? alguien?" while waiting for a person
            say(dispatcher, waiting_message["template"], **waiting_message["vars"])
            return reset + listen()
        say(dispatcher, "greet")
        return reset


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

    async def extract_id_digits(self, dispatcher, tracker, domain):
        """ID digits the slot's text mapping did not take: typed before the bot asked ("hola,
        mi cédula termina en 4821, cuánto debo"), or with words read as another intent while
        it asked ("uy me equivoqué, es 4812"). Never the end of a phone number."""
        if tracker.get_slot("id_digits") is not None:
            return {}
        text = tracker.latest_message.get("text") or ""
        if tracker.get_slot("requested_slot") == "id_digits":
            intent = (tracker.latest_message.get("intent") or {}).get("name")
            found = intent in _NOT_AN_ANSWER and verification.extract_candidate(text)
        else:  # activation: the message that started verification
            found = verification.early_candidate(text)
        return {"id_digits": text} if found else {}

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
    """After the form: answer the pending request, or start its form so that its next question
    is asked in this same turn; otherwise the menu."""

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
        elif what == "documents":
            send_documents(dispatcher, tracker)
        else:
            with conversation_scope(tracker) as (s, conversation):
                if conversation is None or not conversation.debtor_id:
                    say_menu(dispatcher)
                elif what == "payment_link":
                    send_payment_link(dispatcher, tracker, s, conversation)
                elif what == "balance":
                    tell_balance(dispatcher, s, conversation)
                elif what == "breakdown":
                    tell_breakdown(dispatcher, s, conversation)
                elif what == "creditor":
                    tell_creditor(dispatcher, s, conversation)
                else:
                    say_menu(dispatcher)
        ask_consent(dispatcher, tracker)
        return reset + [SlotSet("pending_text", None)] + listen()


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
