"""The time zones a debtor may be in when a message arrives: every plausible one.

A message may go only when it is allowed in all of them: the zone of the debtor's address (when
known) and every zone of the number (corrected, bot.phones); a number that says nothing usable
(toll-free, invalid, the whole country) stands for the country's zones. Regulation F's
commentary asks this of conflicting location data; the other packs follow it for the same
reason."""

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot import phones

UTC = ("UTC",)


def plausible_zones(phone, address_zone, rule):
    """(zone, ...) sorted: the address zone and the number's zones, else the country's."""
    zones = set(phones.time_zones(phone))
    if not zones:
        zones = set(rule.zones) if rule is not None and rule.zones else set()
    if address_zone:
        zones.add(address_zone)
    return tuple(sorted(zones)) or UTC


class TzdataError(RuntimeError):
    """The machine's time-zone data is too old for the packs (zones.md, section 1)."""


def check_tzdata():
    """Fail loudly when the time-zone data predates what the packs assume: Ciudad Juárez
    (tz 2022g), Coyhaique (2025b), Chihuahua on UTC-6 (since October 2022)."""
    try:
        for name in ("America/Ciudad_Juarez", "America/Coyhaique"):
            ZoneInfo(name)
        offset = datetime(2026, 12, 15, 12, tzinfo=ZoneInfo("America/Chihuahua")).utcoffset()
    except ZoneInfoNotFoundError as exc:
        raise TzdataError(
            f"time-zone data lacks {exc}: install tzdata 2025b or later (Debian package tzdata)"
        ) from exc
    if offset.total_seconds() != -6 * 3600:
        raise TzdataError(
            "time-zone data still puts America/Chihuahua on UTC-7: update tzdata (2022g or later)"
        )
