"""Results dashboard commands: recompute the daily aggregates, list experiments."""

from datetime import date

import click
from flask.cli import with_appcontext

from bot.db import session


def _date(value):
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("dates are YYYY-MM-DD") from None


@click.command("analytics-rollup")
@with_appcontext
@click.option("--since", help="Recompute every day from this date (YYYY-MM-DD).")
@click.option("--until", help="Last day to recompute (default: today).")
def analytics_rollup(since, until):
    """Recompute the dashboard's daily aggregates: the recent days (what the workers do every
    ANALYTICS_INTERVAL), or every day of a range (a backfill after a correction)."""
    import time

    from bot.analytics import rollup

    started = time.monotonic()
    if since:
        last = _date(until) if until else rollup.today()
        written = rollup.rollup_range(session(), _date(since), last)
    else:
        written = rollup.rollup_recent(session())
    click.echo(
        f"{len(written)} day(s) recomputed, {sum(written.values())} row(s), "
        f"{time.monotonic() - started:.1f} s"
    )
