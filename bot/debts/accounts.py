"""Balances and account look-ups."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.models import Account
from bot.money import money_var

# Shown in the balance: what is owed, including debts paused while an agent reviews them.
OPEN_STATUSES = ("open", "plan", "disputed", "claim_review")
# Reminders, offers, promises and links go only to these.
COLLECTIBLE = ("open", "plan")


def open_accounts(session, debtor_id, statuses=OPEN_STATUSES):
    """The debtor's accounts with something owed, oldest due first."""
    stmt = (
        select(Account)
        .where(Account.debtor_id == debtor_id, Account.status.in_(statuses))
        .where(Account.balance_minor > 0)
        .order_by(Account.due_date, Account.id)
    )
    return session.execute(stmt).scalars().all()


def collectible_accounts(session, debtor_id):
    return open_accounts(session, debtor_id, COLLECTIBLE)


def local_today(debtor):
    """The debtor's date (their time zone when known): "mañana" is their tomorrow."""
    zone = debtor.timezone if debtor is not None else None
    return datetime.now(ZoneInfo(zone)).date() if zone else date.today()


def days_overdue(account, today=None):
    today = today or date.today()
    return max((today - account.due_date).days, 0)


def balance_messages(session, debtor_id, today=None):
    """Template messages describing what the debtor owes: one per open account."""
    accounts = open_accounts(session, debtor_id)
    if not accounts:
        return [{"template": "balance.none", "vars": {}}]
    messages = []
    for account in accounts:
        overdue = days_overdue(account, today)
        messages.append(
            {
                "template": "balance.overdue" if overdue else "balance.current",
                "vars": {
                    "amount": money_var(account.balance_minor, account.currency),
                    "due_date": account.due_date.isoformat(),
                    "days_overdue": overdue,
                    "reference": account.external_id,
                },
            }
        )
    return messages
