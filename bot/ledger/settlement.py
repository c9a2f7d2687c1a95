"""An agreed settlement in the ledger: once what was paid since it was agreed reaches its
amount by its date, the rest of the balance is written off (an entry naming the policy version
that allowed it) and the account is closed as paid. The offers themselves (policy bounds,
overrides, what the debtor is told) are bot.debts.settlements."""

from sqlalchemy import select, update

from bot import audit, statuses
from bot.ledger import entries
from bot.models import Account, Settlement


def active(session, account):
    """The account's agreed settlement still open, or None."""
    return session.execute(
        select(Settlement)
        .where(Settlement.account_id == account.id, Settlement.status == statuses.Settlement.ACTIVE)
        .order_by(Settlement.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def remaining(settlement):
    return max(settlement.amount_minor - settlement.paid_minor, 0)


def on_payment(session, account, applied_minor, today, actor):
    """Count a payment toward the active settlement; close the account when it is paid.
    Returns the settlement now paid, or None."""
    settlement = active(session, account)
    if settlement is None or applied_minor <= 0:
        return None
    if today > settlement.pay_by:
        expire(session, settlement, actor)
        return None
    settlement.paid_minor += applied_minor
    if settlement.paid_minor < settlement.amount_minor:
        return None
    forgiven = account.balance_minor
    entries.write_off(
        session,
        account,
        actor,
        f"settlement {settlement.id}",
        key=f"settlement:{settlement.id}",
        today=today,
        policy_id=settlement.policy_id,
    )
    settlement.status = statuses.Settlement.PAID
    audit.record(
        session,
        actor,
        "settlement.paid",
        account,
        {
            "settlement_id": settlement.id,
            "paid_minor": settlement.paid_minor,
            "written_off_minor": forgiven,
            "policy_id": settlement.policy_id,
        },
    )
    return settlement


def expire(session, settlement, actor="system"):
    settlement.status = statuses.Settlement.EXPIRED
    account = session.get(Account, settlement.account_id)
    audit.record(
        session,
        actor,
        "settlement.expired",
        account,
        {"settlement_id": settlement.id, "paid_minor": settlement.paid_minor},
    )


def expire_overdue(session, today):
    """Expire active settlements whose date is before today; returns how many."""
    ids = (
        session.execute(
            select(Settlement.id).where(
                Settlement.status == statuses.Settlement.ACTIVE, Settlement.pay_by < today
            )
        )
        .scalars()
        .all()
    )
    for settlement_id in ids:
        expire(session, session.get(Settlement, settlement_id))
    return len(ids)


def cancel_active(session, account, actor, reason):
    """Replace: an account has at most one active settlement."""
    found = session.execute(
        update(Settlement)
        .where(Settlement.account_id == account.id, Settlement.status == statuses.Settlement.ACTIVE)
        .values(status=statuses.Settlement.CANCELLED)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if found:
        audit.record(session, actor, "settlement.cancelled", account, {"reason": reason})
    return found
