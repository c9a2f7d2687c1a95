"""Public holidays per country (and subdivision) from the `holidays` package, with the
creditor's own additions and removals on top (holiday_overrides: a día no laborable, a local
feast; each with a reason and who added it)."""

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

import holidays
from sqlalchemy import select

from bot import audit
from bot.models import HolidayOverride

LIBRARY_VERSION = holidays.__version__


class CalendarError(ValueError):
    """An override that cannot be stored (unknown country or subdivision, bad date)."""


def _library_class(country):
    try:
        return holidays.country_holidays(country).__class__
    except NotImplementedError:
        return None


def subdivisions_of(country):
    cls = _library_class(country)
    return tuple(cls.subdivisions) if cls is not None else ()


@lru_cache(maxsize=512)
def library_days(country, subdivision, year):
    """Public holidays of country (one subdivision, "*" for every subdivision's, or None for
    the national ones) in year, as a frozenset of dates."""
    cls = _library_class(country)
    if cls is None:
        return frozenset()
    if subdivision == "*":
        days = set(holidays.country_holidays(country, years=year))
        for sub in cls.subdivisions:
            days |= set(holidays.country_holidays(country, subdiv=sub, years=year))
        return frozenset(days)
    if subdivision and subdivision in cls.subdivisions:
        return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year))
    return frozenset(holidays.country_holidays(country, years=year))


@dataclass
class Calendar:
    """The days a debtor of country (in subdivision) is not written to."""

    country: str
    subdivision: str | None  # a code, "*" for the union of all, None for national only
    added: frozenset = frozenset()
    removed: frozenset = frozenset()
    _cache: dict = field(default_factory=dict, repr=False)

    def is_holiday(self, day):
        hit = self._cache.get(day)
        if hit is None:
            hit = day not in self.removed and (
                day in self.added or day in library_days(self.country, self.subdivision, day.year)
            )
            self._cache[day] = hit
        return hit


def calendar_for(pack, country, region, overrides):
    """The calendar of a pack for a debtor in country and region (a subdivision code or None).
    overrides: {(country, subdivision or None): [(day, action)]}."""
    code = country if pack.calendar == "country" else pack.calendar
    subdivision = None
    if pack.subdivisions != "none":
        known = subdivisions_of(code)
        if region and region in known:
            subdivision = region
        elif pack.subdivisions == "from_region_else_union" and known:
            subdivision = "*"
    added, removed = set(), set()
    for key in ((code, None), (code, subdivision)) if subdivision else ((code, None),):
        for day, action in overrides.get(key, ()):
            (added if action == "add" else removed).add(day)
    if subdivision == "*":
        # Region unknown: every region's own days too.
        for (c, sub), items in overrides.items():
            if c == code and sub:
                added |= {day for day, action in items if action == "add"}
    return Calendar(code, subdivision, frozenset(added), frozenset(removed - added))


def load_overrides(session):
    overrides = {}
    for row in session.execute(select(HolidayOverride)).scalars():
        overrides.setdefault((row.country, row.subdivision), []).append((row.day, row.action))
    return overrides


def set_override(session, country, day, action, reason, actor, subdivision=None):
    """Add (or remove) a day from country's calendar for every debtor there (or only in a
    subdivision); audited. Returns the stored row."""
    country = (country or "").upper()
    if _library_class(country) is None and country != "*":
        raise CalendarError(f"the holidays package has no calendar for {country!r}")
    if subdivision and subdivision not in subdivisions_of(country):
        raise CalendarError(f"{subdivision!r} is not a subdivision of {country}")
    if action not in ("add", "remove"):
        raise CalendarError("action must be add or remove")
    if not isinstance(day, date):
        try:
            day = date.fromisoformat(str(day))
        except ValueError as exc:
            raise CalendarError(f"{day!r} is not a date as YYYY-MM-DD") from exc
    reason = " ".join((reason or "").split())[:200]
    if not reason:
        raise CalendarError("say why (a reason, e.g. the decree that declared the day)")
    row = session.execute(
        select(HolidayOverride).where(
            HolidayOverride.country == country,
            HolidayOverride.subdivision.is_(None)
            if subdivision is None
            else HolidayOverride.subdivision == subdivision,
            HolidayOverride.day == day,
        )
    ).scalar_one_or_none()
    before = {"action": row.action, "reason": row.reason} if row else None
    if row is None:
        row = HolidayOverride(country=country, subdivision=subdivision, day=day)
        session.add(row)
    row.action, row.reason, row.created_by = action, reason, actor
    session.flush()
    audit.record(
        session,
        actor,
        "holiday.overridden",
        row,
        {"day": day.isoformat(), "action": action, "reason": reason, "before": before},
    )
    return row


def delete_override(session, row_id, actor):
    row = session.get(HolidayOverride, row_id)
    if row is None:
        return False
    audit.record(
        session,
        actor,
        "holiday.override_deleted",
        row,
        {"day": row.day.isoformat(), "action": row.action, "reason": row.reason},
    )
    session.delete(row)
    return True
