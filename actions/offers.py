"""Payment methods (general information) and the pay-in-full discount (only where the policy
allows it)."""

from datetime import timedelta

from rasa_sdk import Action
from rasa_sdk.events import SlotSet

from bot import audit
from bot.conversations import verification
from bot.debts.accounts import collectible_accounts
from bot.debts.promises import policy_for
from bot.money import money_var
from bot.payments.reconcile import discounted

from .context import conversation_scope, say, say_with_choices
from .promises import local_today

LINK_CHOICE = {"title_template": "button.payment_link", "payload": "/request_payment_link"}
AGENT_CHOICE = {"title_template": "button.agent", "payload": "/request_agent"}


class ActionPaymentMethods(Action):
    def name(self):
        return "action_payment_methods"

    async def run(self, dispatcher, tracker, domain):
        say_with_choices(dispatcher, "payment.methods", [LINK_CHOICE, AGENT_CHOICE])
        return []


class ActionOfferDiscount(Action):
    def name(self):
        return "action_offer_discount"

    async def run(self, dispatcher, tracker, domain):
        with conversation_scope(tracker) as (s, conversation):
            if conversation is None or not verification.is_verified(conversation):
                say(dispatcher, "verify.ask")
                return [SlotSet("verified", False)]
            accounts = collectible_accounts(s, conversation.debtor_id)
            if not accounts:
                say(dispatcher, "balance.none")
                return []
            account = accounts[0]
            policy = policy_for(s, account)
            if not policy.discount_max_pct or not policy.discount_valid_days:
                say_with_choices(dispatcher, "discount.none", [LINK_CHOICE, AGENT_CHOICE])
                return []
            until = local_today(conversation) + timedelta(days=policy.discount_valid_days)
            amount = discounted(account.balance_minor, policy.discount_max_pct)
            audit.record(
                s,
                "system",
                "discount.offered",
                account,
                {
                    "pct": policy.discount_max_pct,
                    "amount_minor": amount,
                    "until": until.isoformat(),
                },
            )
            variables = {
                "pct": policy.discount_max_pct,
                "amount": money_var(amount, account.currency),
                "balance": money_var(account.balance_minor, account.currency),
                "until": until.isoformat(),
            }
        say_with_choices(dispatcher, "discount.offer", [LINK_CHOICE, AGENT_CHOICE], **variables)
        return []
