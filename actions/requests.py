"""Everyday requests with a path of their own: a relative answering, a new number, a call-back,
an amount written outside any question, and a yes or no that answers the bot's last question."""

import json

from rasa_sdk.events import SlotSet

from bot import audit
from bot.conversations import contact_requests, verification
from bot.conversations.agents import handoff_message
from bot.debts import accounts, parsing
from bot.money import money_var

from .context import (
    BotAction,
    BotFormValidation,
    app,
    asked_before,
    bot_spoke_this_turn,
    conversation_scope,
    listen,
    say,
    say_with_choices,
)
from .handoff import answer_wrong_number, wrong_number_reply
from .menu import say_menu
from .payments import send_payment_link


class ActionThirdParty(BotAction):
    """A relative or someone else answers: nothing about any debt, and the account holder is
    asked to write. The number is not marked: it may well be the debtor's."""

    def name(self):
        return "action_third_party"

    def act(self, dispatcher, tracker, domain):
        with conversation_scope(tracker) as (s, conversation):
            if conversation is not None:
                audit.record(s, "debtor", "conversation.third_party", conversation, {})
        say(dispatcher, "third_party.reply")
        return [SlotSet("pending_request", None), SlotSet("pending_text", None)]


def _when(conversation):
    """The call-back's timing: "" on shift, else when the team is back (template variables)."""
    message = handoff_message(app().config, conversation.debtor)
    return message["vars"] if message["template"] == "agent.handoff_later" else None


class ActionRequestCallback(BotAction):
    """ "Llámenme al ..." : the number (or this one) and the debtor's words go to an agent."""

    def name(self):
        return "action_request_callback"

    def act(self, dispatcher, tracker, domain):
        text = tracker.latest_message.get("text") or ""
        with conversation_scope(tracker) as (s, conversation):
            phone = contact_requests.find_phone(text, conversation)
            row = contact_requests.request_callback(s, conversation, phone, text)
            digits = contact_requests.last_digits(row.phone)
            later = _when(conversation)
        if later:
            say(dispatcher, "callback.recorded_later", last_digits=digits, **later)
        else:
            say(dispatcher, "callback.recorded", last_digits=digits)
        return [SlotSet("pending_request", None), SlotSet("pending_text", None)]


class ValidateNewNumberForm(BotFormValidation):
    def name(self):
        return "validate_new_number_form"

    async def extract_new_phone(self, dispatcher, tracker, domain):
        """On activation, the number written with the request ("anoten este 300 123 4567")."""
        if tracker.get_slot("requested_slot") == "new_phone":
            return {}
        with conversation_scope(tracker) as (_s, conversation):
            phone = contact_requests.find_phone(tracker.latest_message.get("text"), conversation)
        return {"new_phone": phone} if phone else {}

    async def validate_new_phone(self, slot_value, dispatcher, tracker, domain):
        with conversation_scope(tracker) as (_s, conversation):
            phone = contact_requests.find_phone(str(slot_value or ""), conversation)
        if phone is None:
            say(dispatcher, "contact.number_unclear")
            return {"new_phone": None}
        return {"new_phone": phone}


class ActionAskNewPhone(BotAction):
    def name(self):
        return "action_ask_new_phone"

    def act(self, dispatcher, tracker, domain):
        if not bot_spoke_this_turn(tracker, ("contact.number_unclear",)):  # asked again
            say(dispatcher, "contact.ask_new_number")
        return []


class ActionRecordNewNumber(BotAction):
    def name(self):
        return "action_record_new_number"

    def act(self, dispatcher, tracker, domain):
        phone = tracker.get_slot("new_phone")
        words = tracker.get_slot("pending_text") or tracker.latest_message.get("text")
        with conversation_scope(tracker) as (s, conversation):
            contact_requests.request_new_number(s, conversation, phone, words)
        say(
            dispatcher,
            "contact.new_number_recorded",
            last_digits=contact_requests.last_digits(phone),
        )
        return [SlotSet("new_phone", None), SlotSet("pending_text", None)] + listen()


class ActionAmountWhatFor(BotAction):
    """An amount written outside any question ("98 mil"): what it is for, as choices; a
    verified debtor only (the choices name no debt)."""

    def name(self):
        return "action_amount_what_for"

    def act(self, dispatcher, tracker, domain):
        text = tracker.latest_message.get("text") or ""
        with conversation_scope(tracker) as (s, conversation):
            account = None
            if conversation is not None and verification.is_verified(conversation):
                account = accounts.payable_account(s, conversation.debtor_id)
            minor = parsing.parse_amount(text, account.currency) if account else None
        if minor is None:
            say_menu(dispatcher)
            return listen()
        amount = money_var(minor, account.currency)
        entity = json.dumps({"amount": text.strip()[:40]}, ensure_ascii=False)
        say_with_choices(
            dispatcher,
            "amount.what_for",
            [
                {
                    "title_template": "button.partial_amount",
                    "title_vars": {"amount": amount},
                    "payload": f"/partial_payment{entity}",
                },
                {
                    "title_template": "button.paid_amount",
                    "title_vars": {"amount": amount},
                    "payload": f"/already_paid{entity}",
                },
                {
                    "title_template": "button.installment_amount",
                    "title_vars": {"amount": amount},
                    "payload": f"/request_installments{entity}",
                },
                {"title_template": "button.agent", "payload": "/request_agent"},
            ],
            amount=amount,
        )
        return listen()


class ActionYesNo(BotAction):
    """A yes or no outside a form: the answer to the bot's last question when it asked one
    (is this a wrong number? the one choice it offered), else the menu."""

    def name(self):
        return "action_yes_no"

    def act(self, dispatcher, tracker, domain):
        asked = asked_before(tracker)
        answer = (tracker.latest_message.get("intent") or {}).get("name")
        if asked.get("template") == "wrong_number.confirm":
            words = wrong_number_reply(tracker.latest_message.get("text"))
            return answer_wrong_number(dispatcher, tracker, words or answer)
        offered = [b for b in asked.get("buttons") or [] if b.get("on") == answer]
        if len(offered) == 1 and offered[0].get("payload") == "/request_payment_link":
            with conversation_scope(tracker) as (s, conversation):
                verified = conversation is not None and verification.is_verified(conversation)
                if verified:
                    send_payment_link(dispatcher, tracker, s, conversation)
            if verified:
                return listen()
        say_menu(dispatcher)
        return listen()
