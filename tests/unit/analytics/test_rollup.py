"""The daily job: idempotent, re-runnable for a day, and what it recomputes on its own."""

from datetime import date, datetime

from sqlalchemy import func, select

from bot.analytics import rollup
from bot.analytics.query import Filters, sums, totals
from bot.models import DailyFact, Payment, RollupRun
from tests.unit.analytics.history import History, utc

NOW = datetime(2026, 3, 20, 15, 0)


def facts(db, day):
    rows = db.execute(
        select(DailyFact).where(DailyFact.day == day).order_by(DailyFact.metric, DailyFact.id)
    ).scalars()
    return sorted((r.metric, r.segment, r.template_key, r.detail, r.n, r.amount) for r in rows)


def test_a_day_computed_twice_gives_the_same_rows(db):
    h = History(db)
    a = h.debtor("Ana", 100_000, date(2026, 3, 1), utc(date(2026, 2, 1)))
    h.contact(a, utc(date(2026, 3, 2)), "default", "reminder.overdue.friendly")
    h.pay(a, utc(date(2026, 3, 3)), 30_000)
    db.commit()
    for day in (date(2026, 3, 2), date(2026, 3, 3)):
        rollup.rollup_day(db, day, now=NOW)
    first = facts(db, date(2026, 3, 3))
    assert ("collected", "default", "reminder.overdue.friendly", "", 1, 30_000) in first
    rollup.rollup_day(db, date(2026, 3, 3), now=NOW)
    assert facts(db, date(2026, 3, 3)) == first
    assert db.get(RollupRun, date(2026, 3, 3)).rows == len(first)


def test_a_payment_reversed_later_drops_out_when_its_day_is_recomputed(db):
    h = History(db)
    a = h.debtor("Ana", 100_000, date(2026, 3, 1), utc(date(2026, 2, 1)))
    payment = h.pay(a, utc(date(2026, 3, 3)), 30_000)
    db.commit()
    rollup.rollup_day(db, date(2026, 3, 3), now=NOW)
    period = Filters(date(2026, 3, 1), date(2026, 3, 31), {})
    assert totals(sums(db, period, ("collected",)))["collected"] == (1, 30_000)
    db.get(Payment, payment.id).status = "reversed"
    db.commit()
    rollup.rollup_day(db, date(2026, 3, 3), now=NOW)
    assert totals(sums(db, period, ("collected",))) == {}


def test_the_job_recomputes_each_sources_window_and_days_never_computed(db):
    h = History(db)
    h.debtor("Ana", 100_000, date(2026, 3, 1), utc(date(2026, 3, 5)))
    db.commit()
    plan = rollup.days_to_compute(db, NOW)
    assert min(plan) == date(2026, 2, 17)  # the buckets' 31 days back, then every day since
    assert max(plan) == date(2026, 3, 20)
    assert {s.name for s in plan[date(2026, 2, 17)]} == {"buckets"}
    assert {s.name for s in plan[date(2026, 3, 19)]} == {"contacts", "accounts", "buckets",
                                                          "agents"}  # fmt: skip
    rollup.rollup_recent(db, NOW)
    again = rollup.days_to_compute(db, NOW)
    assert min(again) == date(2026, 2, 17) and len(again) == len(plan)  # windows only
    assert db.execute(select(func.count()).select_from(RollupRun)).scalar() == len(plan)


def test_a_future_day_is_not_computed(db):
    assert rollup.rollup_day(db, date(2026, 3, 25), now=NOW) == 0
