"""A portfolio's voice (and, for demos and suites, its payment policy) from the command line;
the admin console has the same pages."""

import click
from flask.cli import with_appcontext

from bot.db import session
from bot.templates.store import REGISTERS


@click.command("portfolio-set")
@with_appcontext
@click.argument("name")
@click.option("--register", type=click.Choice(REGISTERS), help="tú, usted or vos (Spanish)")
@click.option("--creditor", help="the creditor named to a verified debtor")
@click.option(
    "--policy",
    "policy_values",
    multiple=True,
    metavar="FIELD=VALUE",
    help="a payment-policy field from today (e.g. discount_max_pct=10); repeatable",
)
def portfolio_set(name, register, creditor, policy_values):
    """Set how the bot addresses a portfolio's debtors, the creditor it names, and (with
    --policy) its payment policy from today, audited like a change in the console."""
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
    if policy_values:
        _set_policy(s, name, policy_values)
    s.commit()
    click.echo(f"{name}: register {row.register or 'tu'}, creditor {row.creditor_name or '-'}")


def _set_policy(s, name, pairs):
    from bot.debts import policies

    form = {}
    for pair in pairs:
        field, sep, value = pair.partition("=")
        if not sep or field.strip() not in policies.FIELD_NAMES:
            raise click.BadParameter(
                f"{pair!r}: FIELD=VALUE with a policy field", param_hint="--policy"
            )
        form[field.strip()] = value.strip()
    current = policies.values_of(policies.get(s, name) or policies.get(s, "default"))
    try:
        values = policies.parse(form, current)
        _policy, changes = policies.save(s, name, values, CLI_USER)
    except policies.PolicyError as exc:
        raise click.ClickException("; ".join(exc.errors.values())) from exc
    click.echo(f"{name}: policy {', '.join(sorted(changes)) or 'unchanged'}")


class _Cli:
    """The command line as the audit log's actor (policies.save names a console user)."""

    role, id = "cli", "portfolio-set"


CLI_USER = _Cli()
