"""Pay now: a signed payment link for the oldest debt, only to a verified debtor; a link for an
amount the debtor names ("mándame un link por 150 mil") is a partial payment."""

import re

from rasa_sdk.events import SlotSet

from bot import audit
from bot.conversations import verification
from bot.debts import accounts, parsing
from bot.debts.policies import offered_discount
from bot.money import money_var
from bot.payments import links

from .context import BotAction, app, conversation_scope, listen, say, say_message, today_for
from .partial import pay_part

# Money named with the request: a currency word or sign, or "por/for" before a number.
_MONEY = re.compile(
    r"[$]|\b(mil|lucas?|palos?|pesos?|d[oó]lares|dollars?|bucks|soles|usd|cop|mxn|k)\b|"
    r"\b(por|for|of)\s+\$?\d",
    re.IGNORECASE,
)


def named_amount(tracker, currency):
    """The amount the debtor named with the request, in minor units, or None."""
    asked_now = (tracker.latest_message.get("intent") or {}).get("name") == "request_payment_link"
    if asked_now:
        for value in tracker.get_latest_entity_values("amount"):
            minor = parsing.parse_amount(str(value), currency)
            if minor:
                return minor
    # After verification, the words that asked for the link were kept (pending_text).
    text = (tracker.latest_message.get("text") if asked_now else None) or (
        tracker.get_slot("pending_text") or ""
    )
    if text.startswith("/") or not _MONEY.search(text):
        return None  # a reference or a day is not an amount
    return parsing.parse_amount(text, currency)


def send_payment_link(dispatcher, tracker, s, conversation):
    """Say the link for the oldest debt; a named amount under the balance is a partial
    payment of it."""
    owing = accounts.collectible_accounts(s, conversation.debtor_id)
    if not owing:
        account = accounts.payable_account(s, conversation.debtor_id)
        amount = named_amount(tracker, account.currency) if account is not None else None
        if amount:  # the part of a debt under review that the debtor recognises
            return pay_part(dispatcher, s, conversation, account, amount)
        for message in accounts.nothing_to_collect(s, conversation.debtor_id):
            say_message(dispatcher, message)
        return None
    account = owing[0]
    amount = named_amount(tracker, account.currency)
    if amount and amount < account.balance_minor:
        return pay_part(dispatcher, s, conversation, account, amount)
    url = links.payment_url(account)
    hours = app().config["PAY_LINK_TTL_HOURS"]
    offer = offered_discount(s, account, today_for(conversation))
    if offer is not None:  # "dale" after the discount: the link states the discounted amount
        pct, discounted, until = offer
        audit.record(
            s, "debtor", "payment_link.sent", account, {"discount_amount_minor": discounted}
        )
        say(
            dispatcher,
            "payment.link_discount",
            amount=money_var(discounted, account.currency),
            balance=money_var(account.balance_minor, account.currency),
            pct=pct,
            until=until.isoformat(),
            url=url,
            hours=hours,
        )
        return None
    audit.record(s, "debtor", "payment_link.sent", account, {})
    say(
        dispatcher,
        "payment.link",
        amount=money_var(account.balance_minor, account.currency),
        url=url,
        hours=hours,
    )
    return None


class ActionSendPaymentLink(BotAction):
    def name(self):
        return "action_send_payment_link"

    def act(self, dispatcher, tracker, domain):
        with conversation_scope(tracker) as (s, conversation):
            if conversation is None or not verification.is_verified(conversation):
                say(dispatcher, "verify.ask")
                return [SlotSet("verified", False)]
            send_payment_link(dispatcher, tracker, s, conversation)
        return listen()
