"""Auto-debit: charge what is due now (the workers also do it every AUTODEBIT_INTERVAL)."""

import click
from flask.cli import with_appcontext

from bot.db import session
from bot.payments import autodebit
from bot.tasks.periodic import autodebit_lock


@click.group("autodebit")
def autodebit_group():
    """Automatic installment charges on saved cards."""


@autodebit_group.command("run")
@with_appcontext
def autodebit_run():
    """Charge the installments due today on active auto-debits and send the reminders owed
    for failed charges (idempotent)."""
    lock = autodebit_lock()
    if not lock.acquire(blocking=True, blocking_timeout=60):
        raise click.ClickException("another auto-debit run holds the lock; try again later")
    try:
        report = autodebit.run(session())
    finally:
        try:
            lock.release()
        except Exception:  # expired during a very long run: nothing to undo
            pass
    click.echo(", ".join(f"{count} {name}" for name, count in report.items()))
