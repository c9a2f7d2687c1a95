"""Weekly opening hours written as "mon-fri 08:00-18:00, sat 09:00-13:00" (AGENT_HOURS)."""

import re
from datetime import datetime, time, timedelta

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_PART = re.compile(
    r"^(?P<first>[a-z]{3})(?:-(?P<last>[a-z]{3}))?\s+(?P<start>\d{2}:\d{2})-(?P<end>\d{2}:\d{2})$"
)


class ScheduleError(ValueError):
    """Opening hours that cannot be read."""


def parse_hours(text):
    """{weekday: [(start, end), ...]} from "mon-fri 08:00-18:00, sat 09:00-13:00"."""
    schedule = {day: [] for day in range(7)}
    for part in filter(None, (p.strip().lower() for p in (text or "").split(","))):
        match = _PART.match(part)
        if not match or match.group("first") not in DAYS:
            raise ScheduleError(f"AGENT_HOURS part {part!r} is not like 'mon-fri 08:00-18:00'")
        first = DAYS.index(match.group("first"))
        last = DAYS.index(match.group("last")) if match.group("last") in DAYS else first
        start = _clock(match.group("start"))
        end = _clock(match.group("end"))
        for day in range(first, last + 1):
            schedule[day].append((start, end))
    return schedule


def _clock(text):
    hours, minutes = (int(x) for x in text.split(":"))
    if hours == 24 and minutes == 0:
        return time.max
    return time(hours, minutes)


def is_open(schedule, moment):
    return any(start <= moment.time() < end for start, end in schedule[moment.weekday()])


def next_opening(schedule, moment):
    """The next moment (in moment's time zone) when the schedule opens; None if never."""
    for offset in range(8):
        day = (moment + timedelta(days=offset)).date()
        for start, _end in sorted(schedule[day.weekday()]):
            candidate = datetime.combine(day, start, tzinfo=moment.tzinfo)
            if candidate > moment:
                return candidate
    return None
