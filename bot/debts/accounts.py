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


# The choice offered with an account under review: pay the part the debtor does recognise.
PARTIAL_CHOICE = {"title_template": "button.partial", "payload": "/partial_payment"}


def paused_message(account):
    """An account under review (a dispute, a reported payment): never "nothing owed"."""
    return {
        "template": "balance.paused",
        "vars": {
            "amount": money_var(account.balance_minor, account.currency),
            "reference": account.external_id,
        },
        "buttons": [PARTIAL_CHOICE],
    }


def nothing_to_collect(session, debtor_id):
    """What to say when no debt can be offered a link, a promise or a discount: the accounts
    under review with what the debtor can still do, else that nothing is owed."""
    paused = open_accounts(session, debtor_id, statuses.Account.PAUSED)
    if paused:
        return [paused_message(account) for account in paused]
    return [{"template": "balance.none", "vars": {}}]


def payable_account(session, debtor_id):
    """The debt a payment the debtor names goes to: the oldest collectible one, else the
    oldest under review (the part the debtor recognises can still be paid); None."""
    for among in (statuses.Account.COLLECTIBLE, statuses.Account.PAUSED):
        accounts = open_accounts(session, debtor_id, among)
        if accounts:
            return accounts[0]
    return None


def balance_messages(session, debtor_id, today, explain=False):
    """Template messages describing what the debtor owes on their today: one per open account
    (an account under review says so, with the part the debtor recognises still payable), each
    followed by what it is made of (principal, interest, fees, payments) when interest or fees
    made it grow, or when explain (the debtor asked why, or about interest)."""
    accounts = open_accounts(session, debtor_id)
    if not accounts:
        return [{"template": "balance.none", "vars": {}}]
    messages = []
    for account in accounts:
        if account.status in statuses.Account.PAUSED:
            messages.append(paused_message(account))
            continue
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
