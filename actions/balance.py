"""Balance: amount, due date and days overdue, only for a verified debtor; why it is what it
is; and which company the debt is owed to."""

from rasa_sdk.events import SlotSet

from bot.conversations import waiting
from bot.conversations.agents import handoff_message
from bot.conversations.escalation import mark_for_agent
from bot.debts import accounts
from bot.templates import voice

from .context import (
    BotAction,
    app,
    conversation_scope,
    first_name,
    is_verified,
    listen,
    say,
    say_message,
    say_with_choices,
    today_for,
)
from .menu import MENU_CHOICES


def reverify(dispatcher):
    """The verified slot was stale (an expired verification): ask again, reveal nothing."""
    say(dispatcher, "verify.ask")
    return [SlotSet("verified", False)]


def tell_balance(dispatcher, s, conversation, explain=False):
    """The balance of each open debt, with what it is made of when interest or fees made it
    grow, or when explain (the debtor asked why)."""
    today = today_for(conversation)
    for message in accounts.balance_messages(s, conversation.debtor_id, today, explain=explain):
        say_message(dispatcher, message)


def tell_breakdown(dispatcher, s, conversation):
    """ "¿Por qué subió?": each debt's balance with its principal, interest, fees, payments and
    discounts (the ledger's sums), and the interest terms where interest runs."""
    tell_balance(dispatcher, s, conversation, explain=True)


def tell_creditor(dispatcher, s, conversation):
    """The creditor's name (the portfolio's, else CREDITOR_NAME); a person answers when none
    is set."""
    name = voice.creditor_name(s, conversation.debtor)
    if name:
        say(dispatcher, "creditor.name", creditor=name)
        return
    mark_for_agent(s, conversation, "ask_creditor")
    message = handoff_message(app().config, conversation.debtor)
    say(dispatcher, message["template"], **message["vars"])


# Intents that ask why the balance is what it is ("¿por qué subió?", "¿cuánto me cobran de
# intereses?"): the balance then comes with its breakdown even when nothing was added to it.
EXPLAIN = ("ask_amount_breakdown",)


class ActionTellBalance(BotAction):
    def name(self):
        return "action_tell_balance"

    def act(self, dispatcher, tracker, domain):
        with conversation_scope(tracker) as (s, conversation):
            if not is_verified(conversation):
                return reverify(dispatcher)
            intent = (tracker.latest_message or {}).get("intent", {}).get("name")
            tell_balance(dispatcher, s, conversation, explain=intent in EXPLAIN)
        return listen()


class ActionTellBreakdown(BotAction):
    def name(self):
        return "action_tell_breakdown"

    def act(self, dispatcher, tracker, domain):
        with conversation_scope(tracker) as (s, conversation):
            if not is_verified(conversation):
                return reverify(dispatcher)
            tell_breakdown(dispatcher, s, conversation)
        return listen()


class ActionTellCreditor(BotAction):
    def name(self):
        return "action_tell_creditor"

    def act(self, dispatcher, tracker, domain):
        with conversation_scope(tracker) as (s, conversation):
            if not is_verified(conversation):
                return reverify(dispatcher)
            tell_creditor(dispatcher, s, conversation)
        return listen()


class ActionGreetVerified(BotAction):
    def name(self):
        return "action_greet_verified"

    def act(self, dispatcher, tracker, domain):
        with conversation_scope(tracker) as (s, conversation):
            name = first_name(conversation)
            in_line = conversation is not None and waiting.is_waiting(conversation)
            if in_line:  # greeting again while waiting for a person
                message = waiting.still_waiting_message(s, app().config, conversation)
        if in_line:
            say(dispatcher, message["template"], **message["vars"])
        else:
            say_with_choices(dispatcher, "greet.verified", MENU_CHOICES, first_name=name)
        return listen()
