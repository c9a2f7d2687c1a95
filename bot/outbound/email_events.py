"""Bounces and complaints the e-mail provider reports, applied once per event id: a permanent
bounce marks the debtor's address undeliverable (nothing is e-mailed to it again until it
changes), a complaint ("this is spam") is an e-mail opt-out with that as its evidence. A
temporary bounce is only recorded."""

from sqlalchemy import func, select

from bot import channels
from bot.clock import utcnow
from bot.contact import preferences
from bot.models import Debtor, EmailEvent
from bot.outbound.email import mark_undeliverable

KINDS = ("bounce", "complaint")


class BadEvent(ValueError):
    """An event that cannot be applied (400)."""


def parse(item):
    """(event id, kind, address, permanent, detail) of one event of the JSON body."""
    if not isinstance(item, dict):
        raise BadEvent("each event must be an object")
    event_id = str(item.get("id") or "").strip()[:255]
    kind = str(item.get("type") or "").strip().lower()
    if not event_id or kind not in KINDS:
        raise BadEvent("each event needs an id and a type (bounce or complaint)")
    try:
        address = channels.normalise_email(str(item.get("email") or ""))
    except channels.BadAddress as exc:
        raise BadEvent(f"email: {exc}") from exc
    permanent = str(item.get("bounce_type") or "permanent").lower() in ("permanent", "hard")
    detail = " ".join(str(item.get("detail") or "").split())[:200]
    return event_id, kind, address, permanent, detail


def apply(session, events, now=None):
    """Apply a batch of events; {"applied": n, "duplicates": n}. Raises BadEvent before
    changing anything when one event is malformed."""
    now = now or utcnow()
    parsed = [parse(item) for item in events]
    report = {"applied": 0, "duplicates": 0}
    for event_id, kind, address, permanent, detail in parsed:
        if session.execute(select(EmailEvent.id).where(EmailEvent.event_id == event_id)).first():
            report["duplicates"] += 1
            continue
        debtors = (
            session.execute(select(Debtor).where(func.lower(Debtor.email) == address.lower()))
            .scalars()
            .all()
        )
        for debtor in debtors:
            if kind == "complaint":
                preferences.record_opt_out(
                    session,
                    debtor,
                    channels.EMAIL,
                    "email-provider",
                    now=now,
                    words=f"complaint reported by the e-mail provider (event {event_id})",
                    method="complaint",
                )
            elif permanent:
                mark_undeliverable(session, debtor, debtor.email, f"bounce {detail}", now=now)
        session.add(
            EmailEvent(
                event_id=event_id,
                kind=kind if permanent or kind == "complaint" else "soft_bounce",
                address=address,
                debtor_id=debtors[0].id if debtors else None,
                detail=detail or None,
                received_at=now,
            )
        )
        session.flush()
        report["applied"] += 1
    return report
