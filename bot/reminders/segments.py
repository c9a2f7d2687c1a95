"""Segments: groups of accounts chosen from their data (days overdue, balance, promises kept or
broken, payments); a segment picks the cadence, the tone of the templates and the offer line."""

from sqlalchemy import select

from bot.models import Segment

KINDS = ("due", "installment", "promise")
OFFERS = (None, "plan", "discount")
CRITERIA = (
    "min_days_overdue",
    "max_days_overdue",
    "min_balance_minor",
    "max_balance_minor",
    "currency",
    "min_broken_promises",
    "max_broken_promises",
    "min_kept_promises",
    "min_payments",
    "max_payments",
)


class ReminderError(ValueError):
    """A segment, cadence or campaign that cannot be used."""


# -- segments -----------------------------------------------------------------------------------


def validate_segment(data):
    """Check a segment's criteria, cadence, tone and offer; raise ReminderError."""
    unknown = set(data.get("criteria") or {}) - set(CRITERIA)
    if unknown:
        raise ReminderError(f"unknown criteria: {', '.join(sorted(unknown))}")
    for step in data.get("cadence") or []:
        if step.get("kind") not in KINDS:
            raise ReminderError(f"cadence kind must be one of {', '.join(KINDS)}: {step}")
        if not isinstance(step.get("offset"), int) or abs(step["offset"]) > 365:
            raise ReminderError(f"cadence offset must be a whole number of days: {step}")
    if data.get("offer") not in OFFERS:
        raise ReminderError("offer must be empty, plan or discount")
    if not (data.get("tone") or "").isidentifier():
        raise ReminderError("tone must be a word such as friendly or firm")


def load_segments(session):
    return (
        session.execute(
            select(Segment).where(Segment.active.is_(True)).order_by(Segment.priority, Segment.name)
        )
        .scalars()
        .all()
    )


def matches(criteria, stats):
    """True when the account's numbers meet every given criterion."""
    c = criteria or {}
    checks = (
        ("min_days_overdue", stats["days_overdue"], 1),
        ("max_days_overdue", stats["days_overdue"], -1),
        ("min_balance_minor", stats["balance_minor"], 1),
        ("max_balance_minor", stats["balance_minor"], -1),
        ("min_broken_promises", stats["broken"], 1),
        ("max_broken_promises", stats["broken"], -1),
        ("min_kept_promises", stats["kept"], 1),
        ("min_payments", stats["payments"], 1),
        ("max_payments", stats["payments"], -1),
    )
    for name, value, sign in checks:
        if name in c and (value - c[name]) * sign < 0:
            return False
    return "currency" not in c or c["currency"] == stats["currency"]


def stats_of(row, today):
    """The numbers segments are chosen by, from a row of planning.account_stats()."""
    return {
        "days_overdue": (today - row.due_date).days,
        "balance_minor": row.balance_minor,
        "currency": row.currency,
        "broken": row.broken,
        "kept": row.kept,
        "payments": row.payments,
    }


def segment_for(segments, stats, label=None):
    """The account's segment: its imported label when that names a segment, else the first
    (by priority) whose criteria it meets."""
    for segment in segments:
        if label and segment.name == label:
            return segment
    for segment in segments:
        if matches(segment.criteria, stats):
            return segment
    return None
