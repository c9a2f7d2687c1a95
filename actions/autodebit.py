"""Automatic payments by chat: "¿tengo pago automático?", "cancela el débito automático"; the
pay page turns them on (the debtor agrees to the schedule there). Only for a verified debtor.

Not in the dialogue yet: the conversation's intents and rules call these actions."""

from rasa_sdk.events import SlotSet

from bot.conversations import verification
from bot.debts.accounts import collectible_accounts
from bot.payments import autodebit

from .context import BotAction, conversation_scope, say


def _with_account(tracker, work):
    """work(session, account) for the debtor's oldest collectible debt; None if unverified."""
    with conversation_scope(tracker) as (s, conversation):
        if conversation is None or not verification.is_verified(conversation):
            return None
        accounts = collectible_accounts(s, conversation.debtor_id)
        if not accounts:
            return "autodebit.none", {}
        return work(s, accounts[0], f"debtor:{conversation.debtor_id}")


class _AutodebitAction(BotAction):
    def work(self, session, account, actor):
        raise NotImplementedError

    def act(self, dispatcher, tracker, domain):
        said = _with_account(tracker, self.work)
        if said is None:
            say(dispatcher, "verify.ask")
            return [SlotSet("verified", False)]
        key, variables = said
        say(dispatcher, key, **variables)
        return []


class ActionAutodebitStatus(_AutodebitAction):
    def name(self):
        return "action_autodebit_status"

    def work(self, session, account, actor):
        return autodebit.describe(session, account)


class ActionCancelAutodebit(_AutodebitAction):
    def name(self):
        return "action_cancel_autodebit"

    def work(self, session, account, actor):
        return autodebit.cancel(session, account, actor)
