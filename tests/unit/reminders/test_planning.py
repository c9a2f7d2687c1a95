"""Planning fits a cadence into the legal slots: a later step of the same debt takes the place
of an earlier one still waiting (recorded, never silent), each step waits until the next one
fires, and the last step waits longest."""

from datetime import datetime, timedelta

from sqlalchemy import select

from bot.models import AuditEvent
from bot.reminders import dispatching, planning
from tests.unit.reminders.test_reminders import camila, rows


def test_a_later_step_supersedes_the_earlier_one_still_waiting(app, db, demo_debtors):
    debtor = camila(db)  # due 2026-11-10: due:0 fires then, due:1 the day after
    night = datetime(2026, 11, 11, 2, 0)  # Tuesday 21:00 Bogotá (10 Nov): outside the hours
    planning.plan(db, today=datetime(2026, 11, 10).date(), now=night)
    dispatching.dispatch(db, now=night, enqueue=False)
    [first] = rows(db, debtor_id=debtor.id)
    assert (first.step, first.status) == ("due:0", "deferred")
    report = planning.plan(db, today=datetime(2026, 11, 11).date(), now=night + timedelta(hours=12))
    by_step = {r.step: r for r in rows(db, debtor_id=debtor.id)}
    assert (by_step["due:0"].status, by_step["due:0"].reason) == ("suppressed", "superseded:due:1")
    assert by_step["due:1"].status == "planned"
    assert report.superseded == 1 and "1 superseded" in report.summary()
    [event] = (
        db.execute(select(AuditEvent).where(AuditEvent.action == "reminder.superseded"))
        .scalars()
        .all()
    )
    assert event.data == {"by": "due:1"}


def test_each_step_waits_for_the_next_and_the_last_waits_longest(app, db, demo_debtors):
    debtor = camila(db)
    now = datetime(2026, 11, 17, 15, 0)  # due:7 of the default cadence (next: due:15)
    planning.plan(db, now=now)
    [row] = rows(db, debtor_id=debtor.id)
    assert row.expires_at == datetime(2026, 11, 26)  # the day after due:15 fires (25 Nov)
    last = datetime(2026, 12, 10, 15, 0)  # due:30, the cadence's last step
    planning.plan(db, now=last)
    [row] = [r for r in rows(db, debtor_id=debtor.id) if r.step == "due:30"]
    assert row.expires_at == last + timedelta(days=planning.LAST_STEP_DAYS)
