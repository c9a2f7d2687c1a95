"""Promises to pay on a date, inside the creditor's policy."""

from datetime import date, timedelta

from sqlalchemy import select

from bot import audit
from bot.debts.accounts import collectible_accounts
from bot.models import PaymentPolicy, Promise


def policy_for(session, account=None):
    """The policy of the account's portfolio (its segment), else the default one."""
    names = [account.segment, "default"] if account is not None and account.segment else ["default"]
    for name in names:
        policy = session.execute(
            select(PaymentPolicy).where(PaymentPolicy.portfolio == name)
        ).scalar_one_or_none()
        if policy is not None:
            return policy
    return PaymentPolicy(portfolio="default", max_promise_days=15, max_deferral_days=30)


def latest_promise_date(session, account, today=None, deferral=False):
    """The latest date the policy allows: max_promise_days for a promise, max_deferral_days
    when the debtor asked for more time (a deferral)."""
    today = today or date.today()
    policy = policy_for(session, account)
    return today + timedelta(days=policy.max_deferral_days if deferral else policy.max_promise_days)


def promise(session, conversation, promised_date, actor, today=None, deferral=False, account=None):
    """Record a promise to pay the oldest collectible account (or the account given, e.g. the
    one a payment link was for) in full on promised_date.

    Returns (outcome, promise or latest allowed date): ("recorded", Promise),
    ("too_far", latest date), ("past", today) or ("nothing_owed", None).
    """
    today = today or date.today()
    if account is None:
        accounts = collectible_accounts(session, conversation.debtor_id)
        if not accounts:
            return "nothing_owed", None
        account = accounts[0]
    latest = latest_promise_date(session, account, today, deferral)
    if promised_date < today:
        return "past", today
    if promised_date > latest:
        return "too_far", latest
    row = Promise(
        account_id=account.id,
        amount_minor=account.balance_minor,
        promised_date=promised_date,
        created_by=actor,
    )
    session.add(row)
    audit.record(
        session,
        actor,
        "promise.recorded",
        account,
        {
            "promised_date": promised_date.isoformat(),
            "amount_minor": account.balance_minor,
            "deferral": deferral,
        },
    )
    return "recorded", row
