"""Partial payments ("abonos"): the debtor names an amount, at least the policy's minimum and
at most what is owed, and gets a link for it; the plan's installments fill in order and a
promise counts it (bot.payments.reconcile).

An account under review (a dispute, a reported payment) still takes a partial payment: the
debtor may pay the part they do recognise while the rest is reviewed (issue 16)."""

from datetime import timedelta

from flask import current_app

from bot import audit, statuses
from bot.debts import promises
from bot.debts.accounts import is_collectible
from bot.debts.policies import policy_for
from bot.money import money_var
from bot.payments import links
from bot.payments.reconcile import owed


def accepts(account):
    """True when the account takes a partial payment: collectible, or paused for review with
    something owed (the part the debtor recognises)."""
    if is_collectible(account):
        return True
    return account.status in statuses.Account.PAUSED and account.balance_minor > 0


def minimum(session, account, today):
    """The smallest partial payment the policy accepts (never more than what is owed)."""
    policy = policy_for(session, account, today)
    return max(min(policy.min_partial_minor or 1, owed(session, account)), 1)


def check(session, account, amount_minor, today):
    """("ok" | "too_small" | "full" | "nothing_owed", what is owed, the minimum)."""
    due = owed(session, account) if accepts(account) else 0
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


def promise_date(session, account, today):
    """The day a partial link's promise falls due: when the link expires (PAY_LINK_TTL_HOURS,
    counted in the debtor's days), never beyond the latest date the policy allows a promise."""
    days = max(-(-current_app.config["PAY_LINK_TTL_HOURS"] // 24), 0)
    latest = promises.latest_promise_date(session, account, today)
    return min(today + timedelta(days=days), latest)


def partial_payment(session, account, amount_minor, today, actor="debtor"):
    """The chat's answer to "quiero abonar 50 mil": a link for that amount with what will
    remain, the minimum when it is too small, the whole balance's link when it covers it.

    A link for part of the balance is recorded as a promise of that amount due when the link
    expires (kept when that part is paid, bot.payments.reconcile), with an audit entry."""
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
    result, promise = promises.promise(
        session,
        None,
        promise_date(session, account, today),
        actor,
        today,
        account=account,
        amount_minor=amount_minor,
    )
    session.flush()
    audit.record(
        session,
        actor,
        "partial_payment.link_sent",
        account,
        {
            "amount_minor": amount_minor,
            "remaining_minor": due - amount_minor,
            "promise_id": promise.id if result == "recorded" else None,
            "under_review": not is_collectible(account),
        },
    )
    return {
        "template": "partial.link",
        "vars": {
            "amount": money_var(amount_minor, currency),
            "remaining": money_var(due - amount_minor, currency),
            "url": links.payment_url(account, amount_minor=amount_minor),
            "hours": hours,
        },
    }
