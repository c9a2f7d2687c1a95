"""Promises to pay on a date, inside the creditor's policy."""

from datetime import timedelta

from sqlalchemy import select

from bot import audit, statuses
from bot.debts.accounts import collectible_accounts, lock
from bot.debts.policies import policy_for
from bot.models import Account, Promise


def latest_promise_date(session, account, today, deferral=False):
    """The latest date the policy allows from the debtor's today: max_promise_days for a
    promise, max_deferral_days when the debtor asked for more time (a deferral)."""
    policy = policy_for(session, account, today)
    return today + timedelta(days=policy.max_deferral_days if deferral else policy.max_promise_days)


def promise(
    session,
    conversation,
    promised_date,
    actor,
    today,
    deferral=False,
    account=None,
    amount_minor=None,
):
    """Record a promise to pay the oldest collectible account (or the account given, e.g. the
    one a payment link was for) on promised_date: the whole balance, or amount_minor (a
    partial payment, at least the policy's minimum); today is the debtor's date.

    Returns (outcome, promise or latest allowed date or minimum): ("recorded", Promise),
    ("too_far", latest date), ("past", today), ("too_small", the minimum amount) or
    ("nothing_owed", None).
    """
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
    amount = account.balance_minor
    if amount_minor is not None and amount_minor < amount:
        least = min(policy_for(session, account, today).min_partial_minor or 1, amount)
        if amount_minor < least:
            return "too_small", least
        amount = amount_minor
    existing = pending_promise(session, account, promised_date)
    if existing is not None:  # the same promise posted twice: the first one stands
        return "recorded", existing
    row = Promise(
        account_id=account.id,
        amount_minor=amount,
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
            "amount_minor": amount,
            "partial": amount < account.balance_minor,
            "deferral": deferral,
        },
    )
    return "recorded", row


def pending_promise(session, account, promised_date):
    """The account's pending promise for that date, under the account's lock: a promise made
    twice at once (a double tap, a retried request) is recorded once."""
    lock(session, account)
    return session.execute(
        select(Promise)
        .where(Promise.account_id == account.id, Promise.status == statuses.Promise.PENDING)
        .where(Promise.promised_date == promised_date)
        .order_by(Promise.id)
        .limit(1)
    ).scalar_one_or_none()


def break_overdue_promises(session, today):
    """Mark pending promises dated before today as broken; returns how many (maintenance)."""
    overdue = session.execute(
        select(Promise).where(
            Promise.status == statuses.Promise.PENDING, Promise.promised_date < today
        )
    ).scalars()
    count = 0
    for promise in overdue:
        promise.status = statuses.Promise.BROKEN
        account = session.get(Account, promise.account_id)
        audit.record(session, "system", "promise.broken", account, {"promise_id": promise.id})
        count += 1
    return count
