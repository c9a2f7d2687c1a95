"""The one place that reads the time.

Everything that decides by time takes `now` (naive UTC, as the database stores it) or asks this
module; nothing else calls datetime.now(), date.today() or time.time(). Tests freeze or move
this clock with time-machine, so a month of reminders or a night outside agent hours is an
input, not an accident of when CI runs.
"""

import time
from datetime import date, datetime, timezone
from functools import cache
from zoneinfo import ZoneInfo

from bot import phones


def utcnow():
    """Now, as naive UTC (the database's convention)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


@cache
def zone_info(name):
    """The ZoneInfo for a zone name, kept: ZoneInfo's own cache holds only a few zones strongly,
    and a batch of debtors in a dozen zones would read the zone files again and again."""
    return ZoneInfo(name)


def aware(moment, zone):
    """A naive-UTC moment as an aware datetime in zone."""
    return moment.replace(tzinfo=timezone.utc).astimezone(zone_info(zone))


def to_utc(moment):
    """An aware datetime as naive UTC."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def local_date(moment, zone):
    """The calendar date in zone at a naive-UTC moment."""
    return aware(moment, zone).date()


def debtor_zone(debtor):
    """The zone a debtor's dates are read in: the one on file, else the number's first zone,
    else UTC (deterministic, never the server's own zone)."""
    if debtor is not None and debtor.timezone:
        return debtor.timezone
    zones = phones.time_zones(debtor.phone) if debtor is not None else ()
    return zones[0] if zones else "UTC"


def today_for(debtor, now=None):
    """The debtor's date: "mañana" and "ayer" are their tomorrow and yesterday."""
    return local_date(now or utcnow(), debtor_zone(debtor))


def today_in(zone, now=None):
    return local_date(now or utcnow(), zone)


def as_date(value):
    """A date from a date or an ISO string (template variables carry ISO strings)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def epoch():
    """Seconds since the epoch (for signatures and sessions that carry a timestamp)."""
    return time.time()
