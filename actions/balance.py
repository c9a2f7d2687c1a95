"""Balance: amount, due date and days overdue, only for a verified debtor; why it is what it
is; and which company the debt is owed to."""

from rasa_sdk.events import SlotSet

from bot.conversations import waiting
from bot.conversations.agents import handoff_message
from bot.conversations.escalation import mark_for_agent
from bot.debts import accounts
from bot.templates import voice

from . import money_seam
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


def tell_balance(dispatcher, s, conversation):
    for message in accounts.balance_messages(s, conversation.debtor_id, today_for(conversation)):
        say_message(dispatcher, message)


def tell_breakdown(dispatcher, s, conversation):
    """What each debt is made of; where that detail is not available in the chat, the balance
    and a person who explains it."""
    today = today_for(conversation)
    owing = accounts.open_accounts(s, conversation.debtor_id)
    found = [money_seam.breakdown_messages(s, account, today) for account in owing]
    tell_balance(dispatcher, s, conversation)
    if owing and all(messages is not None for messages in found):
        for messages in found:
            for message in messages:
                say_message(dispatcher, message)
    elif owing:
        mark_for_agent(s, conversation, "ask_amount_breakdown")
        say(dispatcher, "balance.breakdown_by_agent")


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


class ActionTellBalance(BotAction):
    def name(self):
        return "action_tell_balance"

    def act(self, dispatcher, tracker, domain):
        with conversation_scope(tracker) as (s, conversation):
            if not is_verified(conversation):
                return reverify(dispatcher)
            tell_balance(dispatcher, s, conversation)
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
