"""The contact log: every decision about a proactive message and its outcome, with the zones
and local times it was checked in, the provision behind the reason and the pack's version, so
a compliance officer can show why each message went (or did not) when it did."""

from functools import lru_cache

from sqlalchemy import insert

from bot import clock
from bot.models import ContactEvent

_INSERT = insert(ContactEvent)


@lru_cache(maxsize=4096)
def local_times(zones, at):
    """The moment in each zone, "America/Bogota 2026-12-01 10:00 -0500; ...", for a naive-UTC
    moment (a batch decides at one moment for many debtors in the same zones: cached)."""
    parts = []
    for zone in zones or ():
        local = clock.aware(at, zone)
        parts.append(f"{zone} {local:%Y-%m-%d %H:%M} {local:%z}")
    return "; ".join(parts)[:512]


def event(at, debtor_id, purpose, action, decision=None, **values):
    """One contact_events row (a dict for a bulk insert)."""
    zones = decision.zones if decision is not None else values.pop("zones", ())
    row = {
        "at": at,
        "debtor_id": debtor_id,
        "purpose": purpose,
        "action": action,
        "reason": decision.reason if decision is not None else None,
        "rule": decision.rule if decision is not None else None,
        "channel": decision.channel if decision is not None else None,
        "template_key": decision.template_key if decision is not None else None,
        "pack": decision.pack if decision is not None else None,
        "next_at": decision.next_at if decision is not None else None,
        "zones": ", ".join(zones or ())[:256] or None,
        "local_times": local_times(tuple(zones or ()), at) or None,
        "account_id": None,
        "scheduled_id": None,
        "message_id": None,
        "template_version": None,
        "locale": None,
    }
    row.update(values)
    return row


def write(session, rows):
    """Insert contact_events rows (one executemany)."""
    if rows:
        session.execute(_INSERT, rows)
