"""What one account accrues up to a day: simple daily interest on overdue principal and late
fees, each under the policy version in force on the day it belongs to. Pure functions on plain
values: the daily job (bot.ledger.daily) runs them over every account and posts the result.

Rules (amounts in minor units, dates in the debtor's zone):
- interest accrues for each day after the ledger opened (the opening balance already holds what
  the creditor charged before) on the principal overdue that day: the whole principal once the
  due date is more than interest_grace_days behind, or on a plan the unpaid installments past
  their own grace; at min(interest_rate_bps, interest_max_rate_bps) a year, on a 360- or
  365-day year, or the actual days of each year (366 in a leap year);
- fractions of a minor unit are carried to the next day (in billionths), never rounded away;
- the total interest ever charged never exceeds interest_max_total_bps of the amount due;
- a late fee is charged once per due date (an account without a plan) or per installment, on
  the first day past the grace days, under the version in force that day; never for a due date
  that had passed its grace before the ledger opened;
- a paused account (dispute, claim under review) accrues nothing: its days are skipped.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta

from bot import statuses

NANO = 10**9


@dataclass
class Inst:
    id: int
    due_date: date
    unpaid: int
    status: str
    late_fee_minor: int | None


@dataclass(slots=True)
class State:
    account_id: int
    due_date: date
    principal: int
    interest_charged: int
    accrued_through: date
    carry_nano: int
    late_fee_for: date | None
    opened_on: date
    cap_base: int  # the amount due: what a total-interest cap is a share of
    paused: bool = False
    installments: list | None = None  # None without an active plan


@dataclass
class Fee:
    key: str
    amount: int
    policy_id: int | None
    memo: str
    installment_id: int | None = None


@dataclass
class Result:
    interest: int = 0
    carry_nano: int = 0
    through: date | None = None
    policy_id: int | None = None
    fees: list = field(default_factory=list)
    late: list = field(default_factory=list)  # installment ids that became late
    charged: dict = field(default_factory=dict)  # installment id -> late fee (0 = none due)
    late_fee_for: date | None = None


def version_on(line, day):
    found = line[0]
    for version in line:
        if version.effective_from <= day:
            found = version
        else:
            break
    return found


def year_days(day, basis):
    if basis:
        return basis
    leap = day.year % 4 == 0 and (day.year % 100 != 0 or day.year % 400 == 0)
    return 366 if leap else 365


def annual_bps(version):
    rate = version.interest_rate_bps or 0
    cap = version.interest_max_rate_bps or 0
    return min(rate, cap) if cap else rate


def late_fee(overdue_minor, version):
    """The fixed late fee plus late_fee_bps of the overdue amount (rounded up)."""
    if overdue_minor <= 0:
        return 0
    return (version.late_fee_minor or 0) + -(-overdue_minor * (version.late_fee_bps or 0) // 10_000)


def overdue_on(state, day, grace):
    if state.installments is None:
        return state.principal if (day - state.due_date).days > grace else 0
    late = sum(i.unpaid for i in state.installments if (day - i.due_date).days > grace)
    return min(late, state.principal)


def interest(state, line, today):
    """(minor units, carry in billionths, version id) of interest for the days after
    accrued_through up to today."""
    total = state.carry_nano
    day = state.accrued_through + timedelta(days=1)
    while day <= today:
        version = version_on(line, day)
        bps = annual_bps(version)
        if bps:
            overdue = overdue_on(state, day, version.interest_grace_days or 0)
            if overdue > 0:
                total += overdue * bps * NANO // (10_000 * year_days(day, version.interest_basis))
        day += timedelta(days=1)
    minor, carry = divmod(total, NANO)
    version = version_on(line, today)
    if version.interest_max_total_bps:
        allowed = max(state.cap_base * version.interest_max_total_bps // 10_000, 0)
        allowed = max(allowed - state.interest_charged, 0)
        if minor >= allowed:
            minor, carry = allowed, 0
    return minor, carry, version.id


def accrue(state, line, today):
    """Everything the account accrues through today (nothing when already accrued)."""
    result = Result(carry_nano=state.carry_nano, through=state.accrued_through)
    result.late_fee_for = state.late_fee_for
    if state.accrued_through is not None and state.accrued_through >= today:
        return result
    result.through = today
    if state.paused:
        return result
    result.interest, result.carry_nano, result.policy_id = interest(state, line, today)
    grace_now = version_on(line, today).late_fee_grace_days or 0
    if state.installments is None:
        start = state.due_date + timedelta(days=grace_now + 1)
        if today >= start and state.late_fee_for != state.due_date:
            result.late_fee_for = state.due_date
            version = version_on(line, start)
            amount = late_fee(state.principal, version) if start > state.opened_on else 0
            if amount:
                result.fees.append(
                    Fee(f"late_fee:{state.due_date.isoformat()}", amount, version.id, "late fee")
                )
        return result
    for inst in state.installments:
        if inst.unpaid <= 0:
            continue
        if today > inst.due_date and inst.status == statuses.Installment.DUE:
            result.late.append(inst.id)
        start = inst.due_date + timedelta(days=grace_now + 1)
        if today >= start and inst.late_fee_minor is None:
            version = version_on(line, start)
            amount = late_fee(inst.unpaid, version) if start > state.opened_on else 0
            result.charged[inst.id] = amount
            if amount:
                result.fees.append(
                    Fee(
                        f"late_fee:installment:{inst.id}",
                        amount,
                        version.id,
                        "late fee on an installment",
                        inst.id,
                    )
                )
    return result
