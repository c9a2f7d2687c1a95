"""Partial payments ("abono"): the debtor names an amount (at least the policy's minimum) and
gets a link for it, recorded as a promise of that part (bot.debts.partial). An account under
review still takes the part the debtor recognises."""

from rasa_sdk.events import SlotSet

from bot.debts import accounts, parsing, partial
from bot.money import money_var

from .context import (
    BotAction,
    BotFormValidation,
    bot_spoke_this_turn,
    conversation_scope,
    listen,
    say,
    say_message,
    today_for,
)
from .menu import say_menu


def pay_part(dispatcher, s, conversation, account, amount_minor):
    """Answer a partial payment of amount_minor on account: a link for that part with what
    will remain (a promise of it recorded), the minimum when it is too small, the whole
    balance's link when it covers it."""
    message = partial.partial_payment(s, account, amount_minor, today_for(conversation))
    say_message(dispatcher, message)


def _account(s, conversation):
    return accounts.payable_account(s, conversation.debtor_id) if conversation else None


class ValidatePartialForm(BotFormValidation):
    def name(self):
        return "validate_partial_form"

    async def required_slots(self, domain_slots, dispatcher, tracker, domain):
        """Nothing to ask when nothing is owed."""
        with conversation_scope(tracker) as (s, conversation):
            account = _account(s, conversation)
        return domain_slots if account is not None else []

    async def extract_partial_amount(self, dispatcher, tracker, domain):
        """On activation, the amount named with the request ("quiero abonar 50 mil", or the
        amount a choice carries); later answers come through the slot's text mapping."""
        if tracker.get_slot("requested_slot") == "partial_amount":
            return {}
        texts = [str(v) for v in tracker.get_latest_entity_values("amount")]
        texts.append(tracker.get_slot("pending_text") or tracker.latest_message.get("text") or "")
        with conversation_scope(tracker) as (s, conversation):
            account = _account(s, conversation)
            if account is None:
                return {}
            for text in texts:
                if text.startswith("/"):
                    continue
                minor = parsing.parse_amount(text, account.currency)
                if minor:
                    return {"partial_amount": str(minor)}
        return {}

    async def validate_partial_amount(self, slot_value, dispatcher, tracker, domain):
        with conversation_scope(tracker) as (s, conversation):
            account = _account(s, conversation)
            if account is None:
                return {"partial_amount": None}
            value = str(slot_value or "")
            minor = int(value) if value.isdigit() else parsing.parse_amount(value, account.currency)
            least = partial.minimum(s, account, today_for(conversation))
            balance = money_var(account.balance_minor, account.currency)
            minimum = money_var(least, account.currency)
        if minor is None:
            say(dispatcher, "partial.amount_unclear")
            return {"partial_amount": None}
        if minor < least:
            say(dispatcher, "partial.ask_amount", minimum=minimum, balance=balance)
            return {"partial_amount": None}
        return {"partial_amount": str(minor)}


class ActionAskPartialAmount(BotAction):
    def name(self):
        return "action_ask_partial_amount"

    def act(self, dispatcher, tracker, domain):
        if bot_spoke_this_turn(tracker, ("partial.amount_unclear", "partial.ask_amount")):
            return []  # the validator already asked again
        with conversation_scope(tracker) as (s, conversation):
            account = _account(s, conversation)
            if account is None:
                return []  # nothing to pay: the form ends and says so
            message = partial.ask_amount(s, account, today_for(conversation))
        say_message(dispatcher, message)
        return []


class ActionPartialPayment(BotAction):
    def name(self):
        return "action_partial_payment"

    def act(self, dispatcher, tracker, domain):
        reset = [
            SlotSet("partial_amount", None),
            SlotSet("pending_text", None),
            SlotSet("pending_request", None),
        ]
        amount = tracker.get_slot("partial_amount")
        with conversation_scope(tracker) as (s, conversation):
            account = _account(s, conversation)
            if conversation is None or not conversation.debtor_id:
                say_menu(dispatcher)
            elif account is None or amount is None:
                for message in accounts.nothing_to_collect(s, conversation.debtor_id):
                    say_message(dispatcher, message)
            else:
                pay_part(dispatcher, s, conversation, account, int(amount))
        return reset + listen()
