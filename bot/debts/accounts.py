"""Balances and account look-ups."""

from sqlalchemy import select, update

from bot import statuses
from bot.ledger import breakdown
from bot.models import Account
from bot.money import money_var


def lock(session, account):
    """Hold the account's row until the transaction ends (PostgreSQL: its row lock; SQLite:
    the database's write lock), then re-read it: two requests changing the same debt's money
    state (a double tap, two agents) take turns, and the second sees what the first did."""
    session.execute(
        update(Account)
        .where(Account.id == account.id)
        .values(status=Account.status)
        .execution_options(synchronize_session=False)
    )
    session.refresh(account)
    return account


def move_status(session, account, from_statuses, to_status):
    """One conditional UPDATE moves the account between statuses; False when another request
    moved it first (the caller gives its result instead of doing the work twice)."""
    result = session.execute(
        update(Account)
        .where(Account.id == account.id, Account.status.in_(from_statuses))
        .values(status=to_status)
        .execution_options(synchronize_session=False)
    )
    session.refresh(account)
    return result.rowcount == 1


def open_accounts(session, debtor_id, among=statuses.Account.OWING):
    """The debtor's accounts with something owed, oldest due first."""
    stmt = (
        select(Account)
        .where(Account.debtor_id == debtor_id, Account.status.in_(among))
        .where(Account.balance_minor > 0)
        .order_by(Account.due_date, Account.id)
    )
    return session.execute(stmt).scalars().all()


def collectible_accounts(session, debtor_id):
    """Accounts reminders, offers, promises and links may be about (not paused, not settled)."""
    return open_accounts(session, debtor_id, statuses.Account.COLLECTIBLE)


def is_collectible(account):
    return account.status in statuses.Account.COLLECTIBLE and account.balance_minor > 0


def days_overdue(account, today):
    return max((today - account.due_date).days, 0)


def balance_messages(session, debtor_id, today, explain=False):
    """Template messages describing what the debtor owes on their today: one per open account,
    each followed by what it is made of (principal, interest, fees, payments) when interest or
    fees made it grow, or when explain (the debtor asked why, or about interest)."""
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
        found = breakdown.messages(session, account, today)
        if explain or breakdown.grew(found[0]["vars"]):
            messages.extend(found)
    return messages
