"""Holiday calendars: the holidays package per country (and subdivision), plus the creditor's."""

from datetime import date

import pytest
from sqlalchemy import select

from bot.contact import calendar, packs
from bot.models import AuditEvent, HolidayOverride

PACKS = packs.load_packs(None)


def test_argentina_without_a_province_skips_every_provinces_holidays():
    union = calendar.calendar_for(PACKS["AR"], "AR", None, {})
    assert union.subdivision == "*"
    assert union.is_holiday(date(2026, 12, 7))  # Santa Cruz only
    caba = calendar.calendar_for(PACKS["AR"], "AR", "C", {})
    assert not caba.is_holiday(date(2026, 12, 7)) and caba.is_holiday(date(2026, 12, 8))


def test_national_calendars():
    co = calendar.calendar_for(PACKS["CO"], "CO", None, {})
    assert co.is_holiday(date(2027, 1, 11))  # Epiphany moved to Monday (Ley Emiliani)
    pe = calendar.calendar_for(PACKS["PE"], "PE", None, {})
    assert pe.is_holiday(date(2026, 12, 9))  # Battle of Ayacucho


def test_the_creditor_adds_and_removes_days(db):
    calendar.set_override(
        db, "AR", "2026-12-07", "add", "Resolución JGM 164/2025: día no laborable", "admin:1"
    )
    calendar.set_override(db, "CO", date(2026, 12, 8), "remove", "works that day", "admin:1")
    db.commit()
    overrides = calendar.load_overrides(db)
    caba = calendar.calendar_for(PACKS["AR"], "AR", "C", overrides)
    assert caba.is_holiday(date(2026, 12, 7))
    co = calendar.calendar_for(PACKS["CO"], "CO", None, overrides)
    assert not co.is_holiday(date(2026, 12, 8))
    actions = db.execute(select(AuditEvent.action)).scalars().all()
    assert actions.count("holiday.overridden") == 2
    row = db.execute(select(HolidayOverride).where(HolidayOverride.country == "CO")).scalar_one()
    assert calendar.delete_override(db, row.id, "admin:1")
    db.commit()
    assert ("CO", None) not in calendar.load_overrides(db)


@pytest.mark.parametrize(
    "args, message",
    [
        (("ZZ", "2026-12-01", "add", "x"), "no calendar"),
        (("AR", "2026-13-01", "add", "x"), "not a date"),
        (("AR", "2026-12-01", "maybe", "x"), "add or remove"),
        (("AR", "2026-12-01", "add", "  "), "say why"),
    ],
)
def test_bad_overrides_are_refused(db, args, message):
    with pytest.raises(calendar.CalendarError, match=message):
        calendar.set_override(db, *args, actor="admin:1")


def test_an_unknown_subdivision_is_refused(db):
    with pytest.raises(calendar.CalendarError, match="subdivision"):
        calendar.set_override(db, "AR", "2026-12-01", "add", "x", "admin:1", subdivision="QQ")
