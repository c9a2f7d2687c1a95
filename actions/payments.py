"""Pay now: a signed payment link for the oldest debt, only to a verified debtor."""

from rasa_sdk.events import SlotSet

from bot import audit
from bot.conversations import verification
from bot.debts.accounts import collectible_accounts
from bot.money import money_var
from bot.payments import links

from .context import BotAction, app, conversation_scope, say


def send_payment_link(dispatcher, tracker):
    """Say the link; return False when the debtor is not (or no longer) verified."""
    with conversation_scope(tracker) as (s, conversation):
        if conversation is None or not verification.is_verified(conversation):
            return False
        accounts = collectible_accounts(s, conversation.debtor_id)
        if not accounts:
            say(dispatcher, "balance.none")
            return True
        account = accounts[0]
        url = links.payment_url(account)
        audit.record(s, "debtor", "payment_link.sent", account, {})
        amount = money_var(account.balance_minor, account.currency)
    say(
        dispatcher,
        "payment.link",
        amount=amount,
        url=url,
        hours=app().config["PAY_LINK_TTL_HOURS"],
    )
    return True


class ActionSendPaymentLink(BotAction):
    def name(self):
        return "action_send_payment_link"

    def act(self, dispatcher, tracker, domain):
        if not send_payment_link(dispatcher, tracker):
            say(dispatcher, "verify.ask")
            return [SlotSet("verified", False)]
        return []
