"""Balance: amount, due date and days overdue, only for a verified debtor."""

from rasa_sdk.events import SlotSet

from bot.conversations import verification
from bot.debts import accounts

from .context import BotAction, conversation_scope, first_name, say, today_for

# Intents that ask why the balance is what it is ("¿por qué subió?", "¿cuánto me cobran de
# intereses?"): the balance then comes with its breakdown even when nothing was added to it.
EXPLAIN = ("ask_breakdown", "ask_interest", "ask_why_balance_grew")


class ActionTellBalance(BotAction):
    def name(self):
        return "action_tell_balance"

    def act(self, dispatcher, tracker, domain):
        with conversation_scope(tracker) as (s, conversation):
            if conversation is None or not verification.is_verified(conversation):
                # The verified slot was stale (expired verification): ask again, reveal nothing.
                say(dispatcher, "verify.ask")
                return [SlotSet("verified", False)]
            intent = (tracker.latest_message or {}).get("intent", {}).get("name")
            for message in accounts.balance_messages(
                s, conversation.debtor_id, today_for(conversation), explain=intent in EXPLAIN
            ):
                say(dispatcher, message["template"], **message["vars"])
        return []


class ActionGreetVerified(BotAction):
    def name(self):
        return "action_greet_verified"

    def act(self, dispatcher, tracker, domain):
        with conversation_scope(tracker) as (_s, conversation):
            say(dispatcher, "greet.verified", first_name=first_name(conversation))
        return []
