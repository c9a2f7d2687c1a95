"""The daily job: every source's facts of a day replace that day's rows, in one transaction.
Idempotent (a day computed twice gives the same rows) and re-runnable for any day; each run
recomputes the days whose outcomes can still change and any day never computed."""

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, func, insert, select

from bot import clock
from bot.analytics.facts import Day, FactSet
from bot.analytics.sources import SOURCES
from bot.analytics.touches import TemplateNames, Touches
from bot.models import Account, DailyFact, RollupRun

log = logging.getLogger(__name__)
# Touches are read this far back for each day (bucket entries look 30 days back).
TOUCH_LOOKBACK_DAYS = 45
# A first run, or one after a long gap, backfills at most this many days.
MAX_BACKFILL_DAYS = 400
INSERT_BATCH = 5000


@dataclass
class Context:
    """What a source gets for one day."""

    day: Day
    facts: FactSet
    touches: object
    names: TemplateNames
    zone: str
    now: object


class _LazyTouches(Touches):
    """Touches of the day's range, read per debtor as sources ask."""

    def __init__(self, session, names, since, until):
        super().__init__(session, names)
        self.since, self.until = since, until

    def load(self, debtor_ids):
        return super().load(debtor_ids, self.since, self.until)


def zone():
    return current_app.config["ANALYTICS_TIMEZONE"]


def today(now=None):
    return clock.today_in(zone(), now)


def rollup_day(session, day, sources=SOURCES, now=None):
    """Recompute day's facts of these sources; returns the number of rows written."""
    started = time.monotonic()
    now = now or clock.utcnow()
    bounds = Day.of(day, zone())
    if bounds.start > now:
        return 0
    names = TemplateNames(session)
    touches = _LazyTouches(
        session, names, bounds.start - timedelta(days=TOUCH_LOOKBACK_DAYS), bounds.end
    )
    ctx = Context(bounds, FactSet(day), touches, names, zone(), now)
    for source in sources:
        source.collect(session, ctx)
    metrics = [m for source in sources for m in source.metrics]
    session.execute(delete(DailyFact).where(DailyFact.day == day, DailyFact.metric.in_(metrics)))
    rows = list(ctx.facts.rows())
    for start in range(0, len(rows), INSERT_BATCH):
        session.execute(insert(DailyFact), rows[start : start + INSERT_BATCH])
    run = session.get(RollupRun, day) or RollupRun(day=day)
    run.computed_at, run.rows = now, len(rows)
    run.seconds = round(time.monotonic() - started, 3)
    session.add(run)
    session.commit()
    return len(rows)


def days_to_compute(session, now=None):
    """{day: sources}: each source's window up to today, plus days never computed."""
    last_day = today(now)
    plan = {}
    for source in SOURCES:
        for back in range(source.window_days + 1):
            plan.setdefault(last_day - timedelta(days=back), []).append(source)
    latest = session.execute(select(func.max(RollupRun.day))).scalar()
    if latest is None:
        first = session.execute(select(func.min(Account.created_at))).scalar()
        start = clock.local_date(first, zone()) if first else last_day
    else:
        start = latest + timedelta(days=1)
    start = max(start, last_day - timedelta(days=MAX_BACKFILL_DAYS))
    day = start
    while day <= last_day:
        plan[day] = list(SOURCES)
        day += timedelta(days=1)
    return dict(sorted(plan.items()))


def rollup_recent(session, now=None):
    """What the periodic job runs: returns {day: rows written}."""
    written = {}
    for day, sources in days_to_compute(session, now).items():
        written[day] = rollup_day(session, day, sources, now)
    log.info("analytics: %d day(s) recomputed, %d rows", len(written), sum(written.values()))
    return written


def rollup_range(session, first, last, now=None):
    """Recompute every source for each day from first to last (a backfill)."""
    written = {}
    day = first
    while day <= last:
        written[day] = rollup_day(session, day, SOURCES, now)
        day += timedelta(days=1)
    return written
