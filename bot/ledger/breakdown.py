"""What a balance is made of, for the debtor: principal, interest, fees, payments, discounts.

The chat answers "¿por qué subió?" / "¿cuánto me cobran de intereses?" with these variables
(template keys balance.breakdown and balance.interest_terms) and the pay page shows the same.
Every figure is a sum of ledger entries (a reversal counts with the kind it undoes).
"""

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from bot import statuses
from bot.ledger import entries
from bot.ledger.accrual import annual_bps
from bot.ledger.policy import policy_on
from bot.models import LedgerEntry
from bot.money import money_var

Entry = statuses.Entry
GROUPS = {
    Entry.CHARGE: "principal",
    Entry.ADJUSTMENT: "principal",
    Entry.INTEREST: "interest",
    Entry.FEE: "fees",
    Entry.PAYMENT: "payments",
    Entry.DISCOUNT: "discounts",
    Entry.WRITE_OFF: "discounts",
    Entry.REFUND: "refunds",
}


def totals(session, account):
    """{principal, interest, fees, payments, discounts, refunds} in minor units; payments and
    discounts as positive amounts taken off the balance."""
    undone = aliased(LedgerEntry)
    kind = func.coalesce(undone.kind, LedgerEntry.kind)
    rows = session.execute(
        select(kind, func.sum(LedgerEntry.amount_minor))
        .select_from(LedgerEntry)
        .outerjoin(undone, undone.id == LedgerEntry.reverses_id)
        .where(LedgerEntry.account_id == account.id)
        .group_by(kind)
    ).all()
    found = dict.fromkeys(("principal", "interest", "fees", "payments", "discounts", "refunds"), 0)
    for entry_kind, amount in rows:
        group = GROUPS.get(entry_kind)
        if group is not None:
            found[group] += int(amount or 0)
    found["payments"] = -found["payments"]
    found["discounts"] = -found["discounts"]
    return found


def balance_breakdown(session, account, today):
    """Template variables of balance.breakdown (and, where interest runs, of
    balance.interest_terms under "interest_terms"), for the debtor's today."""
    balance = entries.balance_of(session, account, today)
    sums = totals(session, account)
    currency = account.currency
    variables = {
        "reference": account.external_id,
        "balance": money_var(account.balance_minor, currency),
        "principal": money_var(sums["principal"], currency),
        "interest": money_var(sums["interest"], currency),
        "fees": money_var(sums["fees"], currency),
        "payments": money_var(sums["payments"] - sums["refunds"], currency),
        "discounts": money_var(sums["discounts"], currency),
        "days_overdue": max((today - account.due_date).days, 0),
    }
    policy = policy_on(session, account, today)
    bps = annual_bps(policy)
    if bps:
        variables["interest_terms"] = {
            "annual_rate": str((Decimal(bps) / 100).normalize()),
            "interest_owed": money_var(balance.interest_minor, currency),
            "fees_owed": money_var(balance.fee_minor, currency),
        }
    if balance.credit_minor:
        variables["credit"] = money_var(-balance.credit_minor, currency)
    return variables


def grew(variables):
    """True when interest or fees were added to the debt (the balance grew)."""
    return any(Decimal(variables[k]["amount"]) > 0 for k in ("interest", "fees"))


def messages(session, account, today):
    """The breakdown as template messages: the sums, then the interest terms if any."""
    variables = balance_breakdown(session, account, today)
    terms = variables.pop("interest_terms", None)
    variables.pop("credit", None)
    found = [{"template": "balance.breakdown", "vars": variables}]
    if terms is not None:
        found.append({"template": "balance.interest_terms", "vars": terms})
    return found
