"""A portfolio's voice from the command line (the admin console has the same page)."""

import click
from flask.cli import with_appcontext

from bot.db import session
from bot.templates.store import REGISTERS


@click.command("portfolio-set")
@with_appcontext
@click.argument("name")
@click.option("--register", type=click.Choice(REGISTERS), help="tú, usted or vos (Spanish)")
@click.option("--creditor", help="the creditor named to a verified debtor")
def portfolio_set(name, register, creditor):
    """Set how the bot addresses a portfolio's debtors and the creditor it names."""
    from bot import audit
    from bot.models import Portfolio
    from bot.templates import voice

    s = session()
    current = s.get(Portfolio, name)
    try:
        row, changes = voice.save(
            s,
            name,
            register if register is not None else (current.register if current else None),
            creditor if creditor is not None else (current.creditor_name if current else None),
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    if changes:
        audit.record(
            s,
            "cli",
            "portfolio.voice_changed",
            row,
            {k: {"before": b, "after": a} for k, (b, a) in changes.items()},
        )
    s.commit()
    click.echo(f"{name}: register {row.register or 'tu'}, creditor {row.creditor_name or '-'}")
