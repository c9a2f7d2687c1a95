"""Partial payments ("abonos"): the debtor names an amount, at least the policy's minimum and
at most what is owed, and gets a link for it; the plan's installments fill in order and a
promise counts it (bot.payments.reconcile)."""

from flask import current_app

from bot.debts.accounts import is_collectible
from bot.debts.policies import policy_for
from bot.money import money_var
from bot.payments import links
from bot.payments.reconcile import owed


def minimum(session, account, today):
    """The smallest partial payment the policy accepts (never more than what is owed)."""
    policy = policy_for(session, account, today)
    return max(min(policy.min_partial_minor or 1, owed(session, account)), 1)


def check(session, account, amount_minor, today):
    """("ok" | "too_small" | "full" | "nothing_owed", what is owed, the minimum)."""
    due = owed(session, account) if is_collectible(account) else 0
    if due <= 0:
        return "nothing_owed", 0, 0
    least = minimum(session, account, today)
    if amount_minor is None or amount_minor < least:
        return "too_small", due, least
    if amount_minor >= due:
        return "full", due, least
    return "ok", due, least


def ask_amount(session, account, today):
    """The question for the chat: how much, with the minimum."""
    return {
        "template": "partial.ask_amount",
        "vars": {
            "minimum": money_var(minimum(session, account, today), account.currency),
            "balance": money_var(owed(session, account), account.currency),
        },
    }


def partial_payment(session, account, amount_minor, today):
    """The chat's answer to "quiero abonar 50 mil": a link for that amount with what will
    remain, the minimum when it is too small, the whole balance's link when it covers it."""
    outcome, due, least = check(session, account, amount_minor, today)
    currency = account.currency
    hours = current_app.config["PAY_LINK_TTL_HOURS"]
    if outcome == "nothing_owed":
        return {"template": "balance.none", "vars": {}}
    if outcome == "too_small":
        variables = {"minimum": money_var(least, currency)}
        if amount_minor:
            variables["amount"] = money_var(amount_minor, currency)
        return {"template": "partial.too_small", "vars": variables}
    if outcome == "full":
        return {
            "template": "payment.link",
            "vars": {
                "amount": money_var(due, currency),
                "url": links.payment_url(account),
                "hours": hours,
            },
        }
    return {
        "template": "partial.link",
        "vars": {
            "amount": money_var(amount_minor, currency),
            "remaining": money_var(due - amount_minor, currency),
            "url": links.payment_url(account, amount_minor=amount_minor),
            "hours": hours,
        },
    }
