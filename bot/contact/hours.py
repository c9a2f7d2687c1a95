"""Whether a moment is inside a rule's allowed hours in every zone the debtor may be in, and
the next moment that is; and the caps on how often a debtor is contacted."""

from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from bot import clock, phones


@lru_cache(maxsize=64)
def _holidays(country):
    try:
        return holidays.country_holidays(country)
    except NotImplementedError:
        return {}


def zones_for(phone, stored, rule):
    """The debtor's time zones: the stored one, else all the number's, else the country's."""
    if stored:
        return (stored,)
    zones = phones.time_zones(phone)
    if zones:
        return zones
    return (rule.default_timezone or "UTC",)


def _closed_reason(rule, country, zone, moment):
    """Why moment (naive UTC) is not allowed in zone, or None when it is."""
    local = clock.aware(moment, zone)
    if rule.skip_holidays and local.date() in _holidays(country):
        return "holiday"
    span = rule.hours.get(local.weekday())
    if span is None:
        return "closed_day"
    if not span[0] <= local.time() < span[1]:
        return "outside_hours"
    return None


def hours_block(rule, country, zones, moment):
    """The reason moment is outside the allowed hours in any of the zones, or None."""
    for zone in zones:
        reason = _closed_reason(rule, country, zone, moment)
        if reason:
            return reason
    return None


def next_allowed(rule, country, zones, moment, horizon_days=21):
    """The first moment at or after moment allowed in all zones, or None within the horizon.

    The intersection of the zones' windows opens either now or when one zone's window opens,
    so only those instants are candidates."""
    candidates = {moment}
    for zone in zones:
        start = clock.aware(moment, zone).date()
        for offset in range(horizon_days + 1):
            day = start + timedelta(days=offset)
            span = rule.hours.get(day.weekday())
            if span is None:
                continue
            at = clock.to_utc(datetime.combine(day, span[0], tzinfo=ZoneInfo(zone)))
            if at > moment:
                candidates.add(at)
    for candidate in sorted(candidates):
        if hours_block(rule, country, zones, candidate) is None:
            return candidate
    return None


def cap_block(rule, zone, history, moment):
    """(reason, earliest moment the caps allow) or (None, moment). history: the UTC moments
    of the debtor's proactive contacts in the last days."""
    if not history:
        return None, moment
    recent = sorted(at for at in history if at > moment - timedelta(days=7) and at <= moment)
    if rule.min_gap_hours and recent:
        free = recent[-1] + timedelta(hours=rule.min_gap_hours)
        if free > moment:
            return "min_gap", free
    if len(recent) >= rule.max_per_week:
        if rule.max_per_week == 0:
            return "cap_week", None
        # The window frees when the oldest contact that fills it turns seven days old.
        return "cap_week", recent[-rule.max_per_week] + timedelta(days=7, seconds=1)
    local = clock.aware(moment, zone)
    today = [at for at in recent if clock.aware(at, zone).date() == local.date()]
    if len(today) >= rule.max_per_day:
        if rule.max_per_day == 0:
            return "cap_day", None
        midnight = datetime.combine(local.date() + timedelta(days=1), time(), tzinfo=local.tzinfo)
        return "cap_day", clock.to_utc(midnight)
    return None, moment


def earliest_slot(rule, country, zones, history, now):
    """(moment, first reason) the caps and hours allow from now; (None, reason) when they never
    do (a cap of 0, no allowed hours). Caps and hours push each other forward; a few rounds
    settle it."""
    moment, first_reason = now, None
    for _ in range(10):
        why, free = cap_block(rule, zones[0], history, moment)
        if why and free is None:
            return None, why
        if why:
            first_reason, moment = first_reason or why, free
        closed = hours_block(rule, country, zones, moment)
        if closed:
            first_reason = first_reason or closed
            moment = next_allowed(rule, country, zones, moment)
            if moment is None:
                return None, "no_allowed_hours"
            continue
        if not why:
            break
    return moment, first_reason
