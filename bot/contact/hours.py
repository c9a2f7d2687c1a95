"""Whether a moment is inside a rule's allowed hours in every zone the debtor may be in, and
the next moment that is; and the caps on how often (and on how many channels) a debtor is
contacted. Moments are naive UTC; contacts are (moment, channel) pairs."""

from datetime import datetime, time, timedelta

from bot import clock
from bot.contact.zones import plausible_zones

WEEK = timedelta(days=7)


def zones_for(phone, address_zone, rule):
    """The debtor's plausible zones (bot.contact.zones)."""
    return plausible_zones(phone, address_zone, rule)


def _closed_reason(rule, zone, moment):
    """Why moment (naive UTC) is not allowed in zone, or None when it is."""
    local = clock.aware(moment, zone)
    if rule.is_holiday(local.date()):
        return "holiday"
    span = rule.hours.get(local.weekday())
    if span is None:
        return "closed_day"
    if not span[0] <= local.time() < span[1]:
        return "outside_hours"
    return None


def hours_block(rule, zones, moment):
    """The reason moment is outside the allowed hours in any of the zones, or None."""
    for zone in zones:
        reason = _closed_reason(rule, zone, moment)
        if reason:
            return reason
    return None


def next_allowed(rule, zones, moment, horizon_days=21):
    """The first moment at or after moment allowed in all zones, or None within the horizon.

    The intersection of the zones' windows opens either now or when one zone's window opens,
    so only those instants are candidates."""
    candidates = {moment}
    for zone in zones:
        tz = clock.zone_info(zone)
        start = clock.aware(moment, zone).date()
        for offset in range(horizon_days + 1):
            day = start + timedelta(days=offset)
            span = rule.hours.get(day.weekday())
            if span is None:
                continue
            at = clock.to_utc(datetime.combine(day, span[0], tzinfo=tz))
            if at > moment:
                candidates.add(at)
    for candidate in sorted(candidates):
        if hours_block(rule, zones, candidate) is None:
            return candidate
    return None


def _next_midnight(moment, zone):
    local = clock.aware(moment, zone)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(), tzinfo=local.tzinfo)
    return clock.to_utc(midnight)


def cap_block(rule, zones, history, moment, channel=None):
    """(reason, earliest moment the caps allow) or (None, moment); (reason, None) when they
    never do (a cap of 0). history: the debtor's proactive contacts as (UTC moment, channel),
    at least the last seven days."""
    if not history:
        return None, moment
    recent = sorted(
        (at, ch) for at, ch in history if moment - WEEK < at <= moment and at is not None
    )
    if not recent:
        return None, moment
    if rule.min_gap_hours:
        free = recent[-1][0] + timedelta(hours=rule.min_gap_hours)
        if free > moment:
            return "min_gap", free
    if rule.max_per_week is not None and len(recent) >= rule.max_per_week:
        if rule.max_per_week == 0:
            return "cap_week", None
        # The window frees when the oldest contact that fills it turns seven days old.
        return "cap_week", recent[-rule.max_per_week][0] + WEEK + timedelta(seconds=1)
    if rule.max_channels_per_week and channel is not None:
        used = {ch for _at, ch in recent}
        if channel not in used and len(used) >= rule.max_channels_per_week:
            # Another channel was used this week: this one only once those contacts age out.
            last_other = max(at for at, ch in recent if ch != channel)
            return "channel_week", last_other + WEEK + timedelta(seconds=1)
    if rule.max_per_day is not None:
        if rule.max_per_day == 0:
            return "cap_day", None
        free = None
        for zone in zones:
            today = clock.local_date(moment, zone)
            count = sum(1 for at, _ch in recent if clock.local_date(at, zone) == today)
            if count >= rule.max_per_day:
                midnight = _next_midnight(moment, zone)
                free = midnight if free is None or midnight > free else free
        if free is not None:
            return "cap_day", free
    return None, moment


def earliest_slot(rule, zones, history, now, channel=None):
    """(moment, first reason) the caps and hours allow from now; (None, reason) when they never
    do (a cap of 0, no allowed hours). Caps and hours push each other forward; a few rounds
    settle it."""
    moment, first_reason = now, None
    for _ in range(12):
        why, free = cap_block(rule, zones, history, moment, channel)
        if why and free is None:
            return None, why
        if why:
            first_reason, moment = first_reason or why, free
        closed = hours_block(rule, zones, moment)
        if closed:
            first_reason = first_reason or closed
            moment = next_allowed(rule, zones, moment)
            if moment is None:
                return None, "no_allowed_hours"
            continue
        if not why:
            return moment, first_reason
    return None, first_reason or "no_slot"
