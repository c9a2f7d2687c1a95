"""Accounts with their state as CSV, for the creditor's reconciliation.

The phone is exported in full (E.164): the file goes back into the creditor's systems and into
`import-debts`, which needs the number. Only admins can download it, each download is audited,
and the number is never logged.
"""

import csv
import io

from sqlalchemy import func, select

from bot.models import Account, Conversation, Message, PaymentPlan, Promise
from bot.money import to_decimal

COLUMNS = (
    "external_id",
    "debtor_name",
    "phone",
    "locale",
    "segment",
    "currency",
    "amount_due",
    "balance",
    "due_date",
    "status",
    "plan",
    "promise",
    "last_contact_utc",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text(value):
    # A spreadsheet runs a cell that starts like a formula: free text is made inert.
    value = value or ""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _money(minor, currency):
    return f"{to_decimal(minor, currency)} {currency}"


def _plan_summary(plan, currency):
    installments = plan.installments
    paid = sum(1 for i in installments if i.status == "paid")
    total = _money(plan.total_minor, currency)
    summary = f"{len(installments)} installments, {paid} paid, total {total}"
    upcoming = next((i for i in installments if i.status != "paid"), None)
    if upcoming is not None:
        due = upcoming.amount_minor - upcoming.paid_minor
        summary += f", next {upcoming.due_date.isoformat()} {_money(due, currency)}"
    return summary


def _promise_summary(promise, currency):
    return f"{promise.promised_date.isoformat()} {_money(promise.amount_minor, currency)}"


def account_rows(session):
    """One dict per account, in the order of COLUMNS (money as exact decimal strings)."""
    last_contact = dict(
        session.execute(
            select(Conversation.debtor_id, func.max(Message.created_at))
            .join(Message, Message.conversation_id == Conversation.id)
            .where(Conversation.debtor_id.is_not(None))
            .group_by(Conversation.debtor_id)
        ).all()
    )
    plans = {
        plan.account_id: plan
        for plan in session.execute(
            select(PaymentPlan).where(PaymentPlan.status == "active").order_by(PaymentPlan.id)
        ).scalars()
    }
    promises = {
        promise.account_id: promise
        for promise in session.execute(
            select(Promise).where(Promise.status == "pending").order_by(Promise.id)
        ).scalars()
    }
    accounts = session.execute(select(Account).order_by(Account.external_id)).scalars()
    for account in accounts:
        debtor = account.debtor
        plan = plans.get(account.id)
        promise = promises.get(account.id)
        contact = last_contact.get(debtor.id)
        yield {
            "external_id": _text(account.external_id),
            "debtor_name": _text(debtor.full_name),
            "phone": debtor.phone,
            "locale": debtor.locale,
            "segment": _text(account.segment),
            "currency": account.currency,
            "amount_due": str(to_decimal(account.amount_due_minor, account.currency)),
            "balance": str(to_decimal(account.balance_minor, account.currency)),
            "due_date": account.due_date.isoformat(),
            "status": account.status,
            "plan": _plan_summary(plan, account.currency) if plan else "",
            "promise": _promise_summary(promise, account.currency) if promise else "",
            "last_contact_utc": contact.strftime("%Y-%m-%dT%H:%M:%SZ") if contact else "",
        }


def accounts_csv(session):
    """The CSV text, chunk by chunk (a header, then one line per account)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    count = 0
    for row in account_rows(session):
        writer.writerow(row)
        count += 1
        if count % 200 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
