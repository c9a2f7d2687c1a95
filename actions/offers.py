"""Payment methods (general information, and the creditor's accounts and wallets with the
debtor's payment reference once verified) and the pay-in-full discount (only where the policy
allows it)."""

from rasa_sdk.events import SlotSet

from bot import audit
from bot.conversations import verification
from bot.debts import settlements
from bot.debts.accounts import collectible_accounts, nothing_to_collect
from bot.debts.policies import discount_offer
from bot.money import money_var
from bot.outbound.compose import conversation_locale
from bot.payments import links, rails

from .context import (
    BotAction,
    conversation_scope,
    listen,
    say,
    say_message,
    say_with_choices,
    today_for,
)

# A short yes after an offer takes the link ("dale", "sí, mándamelo").
LINK_CHOICE = {
    "title_template": "button.payment_link",
    "payload": "/request_payment_link",
    "on": "affirm",
}
AGENT_CHOICE = {"title_template": "button.agent", "payload": "/request_agent"}


class ActionPaymentMethods(BotAction):
    def name(self):
        return "action_payment_methods"

    def act(self, dispatcher, tracker, domain):
        said = []
        with conversation_scope(tracker) as (s, conversation):
            # Where to transfer ("¿a qué cuenta consigno, Nequi o Daviplata?") names the
            # debt's payment reference: only for a verified debtor.
            if conversation is not None and verification.is_verified(conversation):
                accounts = collectible_accounts(s, conversation.debtor_id)
                if accounts:
                    lang = conversation_locale(conversation).split("-")[0]
                    text = tracker.latest_message.get("text")
                    said = rails.instructions(s, accounts[0], lang, text)
        for key, variables in said:
            say(dispatcher, key, **variables)
        say_with_choices(dispatcher, "payment.methods", [LINK_CHOICE, AGENT_CHOICE])
        return listen()


class ActionOfferDiscount(BotAction):
    def name(self):
        return "action_offer_discount"

    def act(self, dispatcher, tracker, domain):
        with conversation_scope(tracker) as (s, conversation):
            if conversation is None or not verification.is_verified(conversation):
                say(dispatcher, "verify.ask")
                return [SlotSet("verified", False)]
            accounts = collectible_accounts(s, conversation.debtor_id)
            if not accounts:
                for message in nothing_to_collect(s, conversation.debtor_id):
                    say_message(dispatcher, message)
                return listen()
            account = accounts[0]
            offer = discount_offer(s, account, today_for(conversation))
            if offer is None:
                # No pay-in-full discount: a settlement where the policy allows one.
                proposal = settlements.propose(s, account, today_for(conversation))
                if proposal is None:
                    say_with_choices(dispatcher, "discount.none", [LINK_CHOICE, AGENT_CHOICE])
                    return listen()
                variables = proposal.variables(account.currency)
                variables["url"] = links.payment_url(account)
                say_with_choices(dispatcher, "settlement.offer", [AGENT_CHOICE], **variables)
                return listen()
            pct, amount, until = offer
            audit.record(
                s,
                "system",
                "discount.offered",
                account,
                {"pct": pct, "amount_minor": amount, "until": until.isoformat()},
            )
            variables = {
                "pct": pct,
                "amount": money_var(amount, account.currency),
                "balance": money_var(account.balance_minor, account.currency),
                "until": until.isoformat(),
            }
        say_with_choices(dispatcher, "discount.offer", [LINK_CHOICE, AGENT_CHOICE], **variables)
        return listen()
