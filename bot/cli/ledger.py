"""The ledger: the daily accrual, a check that every balance is the sum of its entries, and
one account's entries."""

from datetime import datetime, timezone

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from bot.db import session
from bot.ledger import entries
from bot.models import Account, LedgerEntry
from bot.money import to_decimal
from bot.tasks import periodic


@click.group("ledger")
def ledger_group():
    """Ledger: accrue interest and late fees, check balances, show an account's entries."""


@ledger_group.command("accrue")
@click.option(
    "--now",
    "at",
    default=None,
    help="Accrue as at this UTC instant (ISO 8601), e.g. to catch up; default now.",
)
@with_appcontext
def accrue_command(at):
    """Accrue every account through its debtor's today (idempotent; also run by workers)."""
    now = None
    if at:
        try:
            now = datetime.fromisoformat(at)
        except ValueError:
            raise click.BadParameter("give an ISO 8601 instant, like 2026-12-01T12:00") from None
        if now.tzinfo is not None:
            now = now.astimezone(timezone.utc).replace(tzinfo=None)
    report = periodic.accrue(now=now)
    if report is None:
        raise click.ClickException("another accrual is running; try again when it ends")
    click.echo(report.summary())


@ledger_group.command("check")
@with_appcontext
def check_command():
    """Prove every cached balance equals the sum of its entries; exit 1 when one does not."""
    problems = entries.verify(session())
    for p in problems[:50]:
        click.echo(f"account {p.account_id}: {p.field} is {p.cached}, entries sum {p.summed}")
    if problems:
        raise click.ClickException(f"{len(problems)} balance(s) differ from their entries")
    click.echo("every balance equals the sum of its entries")


@ledger_group.command("show")
@click.argument("reference")
@with_appcontext
def show_command(reference):
    """Print an account's entries (by the creditor's reference), oldest first."""
    s = session()
    account = s.execute(
        select(Account).where(Account.external_id == reference)
    ).scalar_one_or_none()
    if account is None:
        raise click.ClickException(f"no account with reference {reference!r}")
    rows = s.execute(
        select(LedgerEntry).where(LedgerEntry.account_id == account.id).order_by(LedgerEntry.id)
    ).scalars()
    for e in rows:
        amount = to_decimal(e.amount_minor, e.currency)
        click.echo(
            f"{e.effective_date} {e.kind:<10} {e.bucket:<9} {amount:>14} {e.currency} "
            f"{e.key or ''} {e.memo or ''}".rstrip()
        )
    click.echo(f"balance {to_decimal(account.balance_minor, account.currency)} {account.currency}")
