"""Balance: amount, due date and days overdue, only for a verified debtor."""

from rasa_sdk import Action
from rasa_sdk.events import SlotSet

from bot.conversations import verification
from bot.debts import accounts

from .context import conversation_scope, first_name, say


class ActionTellBalance(Action):
    def name(self):
        return "action_tell_balance"

    async def run(self, dispatcher, tracker, domain):
        with conversation_scope(tracker) as (s, conversation):
            if conversation is None or not verification.is_verified(conversation):
                # The verified slot was stale (expired verification): ask again, reveal nothing.
                say(dispatcher, "verify.ask")
                return [SlotSet("verified", False)]
            for message in accounts.balance_messages(s, conversation.debtor_id):
                say(dispatcher, message["template"], **message["vars"])
        return []


class ActionGreetVerified(Action):
    def name(self):
        return "action_greet_verified"

    async def run(self, dispatcher, tracker, domain):
        with conversation_scope(tracker) as (_s, conversation):
            say(dispatcher, "greet.verified", first_name=first_name(conversation))
        return []
