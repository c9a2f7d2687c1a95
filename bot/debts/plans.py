"""Installment plans inside the creditor's policy."""

import calendar
from datetime import date

from sqlalchemy import select

from bot import audit, clock, statuses
from bot.debts.accounts import move_status
from bot.ledger import accrual, entries
from bot.models import Installment, PaymentPlan

MIN_INSTALLMENTS = 2


def add_months(day, months):
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def fit_count(balance_minor, policy, count=None, per_installment_minor=None):
    """The number of installments to offer: what was asked, or the nearest the policy allows
    (at most max_installments, and no installment under min_installment_minor).

    Returns (count, adjusted): adjusted is True when the request did not fit."""
    if count is None and per_installment_minor:
        count = -(-balance_minor // per_installment_minor)  # ceil
    if count is None:
        return None, False
    most = policy.max_installments
    if policy.min_installment_minor:
        most = min(most, balance_minor // policy.min_installment_minor)
    fitted = max(MIN_INSTALLMENTS, min(count, most))
    return fitted, fitted != count


def fee(balance_minor, policy):
    """The plan fee: plan_fee_bps basis points of the balance, rounded up to a minor unit."""
    return -(-balance_minor * (policy.plan_fee_bps or 0) // 10_000)


def schedule(balance_minor, count, policy, start):
    """[(due date, amount minor)]: monthly from start; every installment after the first is the
    same, the first takes the remainder and at least the policy's minimum first payment (the
    larger of its % of the balance and its amount)."""
    each = balance_minor // count
    first = balance_minor - each * (count - 1)
    minimum_first = max(
        -(-balance_minor * (policy.min_first_payment_pct or 0) // 100),
        policy.min_first_payment_minor or 0,
    )
    # Never so large that a later installment would be empty.
    minimum_first = min(minimum_first, balance_minor - (count - 1))
    if first < minimum_first:
        each = (balance_minor - minimum_first) // (count - 1)
        first = balance_minor - each * (count - 1)
    amounts = [first] + [each] * (count - 1)
    return [(add_months(start, i), amount) for i, amount in enumerate(amounts)]


def late_fee(overdue_minor, days_late, policy):
    """The late fee on an installment overdue by days_late: nothing within the grace days,
    else the fixed amount plus late_fee_bps of the overdue amount (rounded up). The daily
    accrual charges it (bot.ledger.accrual)."""
    if days_late <= (policy.late_fee_grace_days or 0):
        return 0
    return accrual.late_fee(overdue_minor, policy)


def create_plan(session, account, rows, actor, fee_minor=0, today=None):
    """Create the plan and its installments (rows include any fee, which becomes a fee entry
    in the ledger); the account moves to 'plan'. One conditional UPDATE decides between
    simultaneous requests (a double tap on a slow phone): the others get the plan the first one
    created, never a second plan (nor a second fee)."""
    if not move_status(session, account, (statuses.Account.OPEN,), statuses.Account.PLAN):
        existing = active_plan(session, account)
        if existing is not None:
            return existing
        raise ValueError(f"account {account.id} is {account.status}: no plan can start")
    plan = PaymentPlan(
        account_id=account.id,
        total_minor=sum(a for _, a in rows),
        fee_minor=fee_minor,
        created_by=actor,
    )
    plan.installments = [
        Installment(seq=i + 1, due_date=due, amount_minor=amount)
        for i, (due, amount) in enumerate(rows)
    ]
    session.add(plan)
    session.flush()
    if fee_minor:
        entries.post(
            session,
            account,
            statuses.Entry.FEE,
            {statuses.Bucket.FEE: fee_minor},
            today or clock.today_for(account.debtor),
            actor,
            key=f"plan_fee:{plan.id}",
            memo="plan fee",
        )
    account.status = "plan"
    audit.record(
        session,
        actor,
        "plan.created",
        account,
        {"installments": len(rows), "total_minor": plan.total_minor, "status": "plan"},
    )
    return plan


def active_plan(session, account):
    return session.execute(
        select(PaymentPlan)
        .where(PaymentPlan.account_id == account.id, PaymentPlan.status == statuses.Plan.ACTIVE)
        .order_by(PaymentPlan.id.desc())
        .limit(1)
    ).scalar_one_or_none()
