"""Each country's contact rules: allowed local hours per weekday, holidays, caps per day and
week, the minimum gap between contacts, SMS fallback, and the zone used when nothing says."""

from dataclasses import dataclass
from datetime import time
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.models import ContactRule

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Seeded by migration 0009; editable in the contact_rules table (`flask reminders rule-set`).
DEFAULT_RULES = [
    {
        "country": "CO",
        "hours": {d: ["07:00", "19:00"] for d in DAYS[:5]} | {"sat": ["08:00", "15:00"]},
        "skip_holidays": True,
        "max_per_day": 1,
        "max_per_week": 2,
        "min_gap_hours": 0,
        "sms_fallback": True,
        "default_timezone": "America/Bogota",
    },
    {
        "country": "CL",
        "hours": {d: ["08:00", "20:00"] for d in DAYS[:6]},
        "skip_holidays": False,
        "max_per_day": 1,
        "max_per_week": 2,
        "min_gap_hours": 48,
        "sms_fallback": True,
        "default_timezone": "America/Santiago",
    },
    {
        "country": "MX",
        "hours": {d: ["07:00", "22:00"] for d in DAYS},
        "skip_holidays": False,
        "max_per_day": 1,
        "max_per_week": 3,
        "min_gap_hours": 0,
        "sms_fallback": True,
        "default_timezone": "America/Mexico_City",
    },
    {
        "country": "US",
        "hours": {d: ["08:00", "21:00"] for d in DAYS},
        "skip_holidays": False,
        "max_per_day": 1,
        "max_per_week": 7,
        "min_gap_hours": 0,
        "sms_fallback": True,
        "default_timezone": "America/New_York",
    },
    {
        "country": "*",
        "hours": {d: ["08:00", "20:00"] for d in DAYS},
        "skip_holidays": False,
        "max_per_day": 1,
        "max_per_week": 3,
        "min_gap_hours": 0,
        "sms_fallback": True,
        "default_timezone": None,
    },
]


class RuleError(ValueError):
    """A contact rule that cannot be used (bad hours, negative caps)."""


def _clock(text):
    try:
        hour, minute = (int(part) for part in text.split(":"))
        return time(23, 59, 59, 999999) if (hour, minute) == (24, 0) else time(hour, minute)
    except (ValueError, AttributeError) as exc:
        raise RuleError(f"{text!r} is not a time like 07:00") from exc


@dataclass(frozen=True)
class Rule:
    country: str
    hours: dict  # weekday index -> (opens, closes), closes exclusive
    skip_holidays: bool = False
    max_per_day: int = 1
    max_per_week: int = 3
    min_gap_hours: int = 0
    sms_fallback: bool = True
    default_timezone: str | None = None

    @classmethod
    def from_row(cls, row):
        return cls.from_dict({c: getattr(row, c) for c in DEFAULT_RULES[0]})

    @classmethod
    def from_dict(cls, data):
        hours = {}
        for day, span in (data.get("hours") or {}).items():
            if day not in DAYS or len(span) != 2:
                raise RuleError(f"hours need a weekday (mon..sun) and [opens, closes]: {day}")
            opens, closes = _clock(span[0]), _clock(span[1])
            if opens >= closes:
                raise RuleError(f"{day}: {span[0]} is not before {span[1]}")
            hours[DAYS.index(day)] = (opens, closes)
        for name in ("max_per_day", "max_per_week", "min_gap_hours"):
            if int(data.get(name, 0)) < 0:
                raise RuleError(f"{name} cannot be negative")
        if data.get("default_timezone"):
            try:
                ZoneInfo(data["default_timezone"])
            except (KeyError, ValueError) as exc:
                raise RuleError(f"unknown time zone {data['default_timezone']!r}") from exc
        return cls(
            country=data["country"],
            hours=hours,
            skip_holidays=bool(data.get("skip_holidays")),
            max_per_day=int(data.get("max_per_day", 1)),
            max_per_week=int(data.get("max_per_week", 3)),
            min_gap_hours=int(data.get("min_gap_hours", 0)),
            sms_fallback=bool(data.get("sms_fallback", True)),
            default_timezone=data.get("default_timezone"),
        )


def load_rules(session):
    """All contact rules by country ("*" is the default)."""
    rules = {
        row.country: Rule.from_row(row) for row in session.execute(select(ContactRule)).scalars()
    }
    if "*" not in rules:
        rules["*"] = Rule.from_dict(DEFAULT_RULES[-1])
    return rules


def rule_for(rules, country):
    return rules.get(country) or rules["*"]
