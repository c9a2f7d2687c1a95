"""The event sources of the daily aggregates. Each Source reads one kind of event for one
day and adds facts; `window_days` says how many days after an event its facts may still
change (a reply, a payment or a cure arriving later), so the job recomputes those days."""

from collections.abc import Callable
from dataclasses import dataclass

from bot.analytics.sources import accounts, agents, buckets, contacts


@dataclass(frozen=True)
class Source:
    name: str
    window_days: int
    metrics: tuple  # the metrics it writes (a day's rows of these are replaced as a whole)
    collect: Callable  # (session, ctx) -> None; adds to ctx.facts


SOURCES = (
    Source("contacts", contacts.WINDOW_DAYS, contacts.METRICS, contacts.collect),
    Source("accounts", accounts.WINDOW_DAYS, accounts.METRICS, accounts.collect),
    Source("buckets", buckets.WINDOW_DAYS, buckets.METRICS, buckets.collect),
    Source("agents", agents.WINDOW_DAYS, agents.METRICS, agents.collect),
)


def max_window():
    return max(source.window_days for source in SOURCES)
