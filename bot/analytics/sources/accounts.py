"""What happens to accounts on the day: placed, paid (credited to the debt and collected),
written off, promised, promises falling due (kept, broken, pending), plans, claims, disputes,
opt-outs, and whether each resolution came without an agent (self-service).

Money facts are in the account's currency. A payment counts only while it stands (status
succeeded): one reversed later drops out when its day is recomputed. Events take segment,
channel, template and variant from the reminder that last reached the debtor within
ATTRIBUTION_DAYS (bot.analytics.touches)."""

import bisect
from collections import defaultdict
from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import aliased

from bot import statuses
from bot.analytics.facts import ATTRIBUTION_DAYS, cohort_of, portfolio_of
from bot.analytics.touches import touch_dims
from bot.models import (
    Account,
    Conversation,
    Debtor,
    Dispute,
    Message,
    Payment,
    PaymentClaim,
    PaymentPlan,
    Promise,
)

# A promise's status settles the day after its date (broken) or when paid (kept).
WINDOW_DAYS = ATTRIBUTION_DAYS + 2
STAFF = ("agent:", "admin:")
METRICS = ("placed", "credited", "collected", "written_off", "promise_made", "promise_due",
           "plan_created", "claim", "dispute", "opt_out", "resolution")  # fmt: skip
_ACCOUNT = (
    Account.id.label("account_id"),
    Account.debtor_id,
    Account.segment.label("label"),
    Account.currency,
    Account.due_date,
    Debtor.country,
)


def _fixed(row):
    """Dimensions an account keeps for life."""
    return {
        "portfolio": portfolio_of(row.label),
        "country": row.country,
        "currency": row.currency,
        "cohort": cohort_of(row.due_date),
    }


def _rows(session, model, *columns, where):
    return session.execute(
        select(*columns, *_ACCOUNT)
        .select_from(model)
        .join(Account, Account.id == model.account_id)
        .join(Debtor, Debtor.id == Account.debtor_id)
        .where(*where)
    ).all()


class AgentContacts:
    """When staff wrote to each debtor lately: a resolution after that is not self-service."""

    def __init__(self, session, debtor_ids, since, until):
        self.times = defaultdict(list)
        ids = sorted(set(debtor_ids))
        for start in range(0, len(ids), 500):
            rows = session.execute(
                select(Conversation.debtor_id, Message.created_at)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(Conversation.debtor_id.in_(ids[start : start + 500]))
                .where(Message.author_id.is_not(None))
                .where(Message.created_at >= since, Message.created_at < until)
            )
            for debtor_id, at in rows:
                self.times[debtor_id].append(at)
        for times in self.times.values():
            times.sort()

    def involved(self, debtor_id, moment):
        times = self.times.get(debtor_id, ())
        i = bisect.bisect_right(times, moment)
        return i > 0 and times[i - 1] >= moment - timedelta(days=ATTRIBUTION_DAYS)


def collect(session, ctx):
    day, facts = ctx.day, ctx.facts
    placed = session.execute(
        select(Account.amount_due_minor, *_ACCOUNT)
        .join(Debtor, Debtor.id == Account.debtor_id)
        .where(Account.created_at >= day.start, Account.created_at < day.end)
    ).all()
    for row in placed:
        facts.add("placed", 1, row.amount_due_minor, **_fixed(row))

    payments = _rows(
        session,
        Payment,
        Payment.received_at.label("at"),
        Payment.amount_minor,
        Payment.surplus_minor,
        Payment.discount_minor,
        Payment.provider,
        where=(
            Payment.received_at >= day.start,
            Payment.received_at < day.end,
            Payment.status == statuses.Payment.SUCCEEDED,
        ),
    )
    promises = _rows(
        session,
        Promise,
        Promise.created_at.label("at"),
        Promise.amount_minor,
        Promise.created_by,
        where=(Promise.created_at >= day.start, Promise.created_at < day.end),
    )
    due = _rows(
        session,
        Promise,
        Promise.created_at.label("at"),
        Promise.amount_minor,
        Promise.status,
        where=(Promise.promised_date == day.day,),
    )
    plans = _rows(
        session,
        PaymentPlan,
        PaymentPlan.created_at.label("at"),
        PaymentPlan.total_minor,
        PaymentPlan.created_by,
        where=(PaymentPlan.created_at >= day.start, PaymentPlan.created_at < day.end),
    )
    claims = _rows(
        session,
        PaymentClaim,
        PaymentClaim.created_at.label("at"),
        where=(PaymentClaim.created_at >= day.start, PaymentClaim.created_at < day.end),
    )
    disputes = _rows(
        session,
        Dispute,
        Dispute.created_at.label("at"),
        where=(Dispute.created_at >= day.start, Dispute.created_at < day.end),
    )
    upheld = _rows(
        session,
        Dispute,
        Dispute.updated_at.label("at"),
        Account.balance_minor,
        where=(
            Dispute.status == statuses.Dispute.UPHELD,
            Dispute.updated_at >= day.start,
            Dispute.updated_at < day.end,
        ),
    )
    opt_outs = _opt_outs(session, day)
    everyone = [r.debtor_id for group in (payments, promises, due, plans, claims, disputes,
                                          opt_outs) for r in group]  # fmt: skip
    ctx.touches.load(everyone)
    staff = AgentContacts(session, everyone, day.start - timedelta(days=ATTRIBUTION_DAYS), day.end)

    def attributed(row):
        touch = ctx.touches.last(row.debtor_id, row.at, ATTRIBUTION_DAYS)
        return _fixed(row) | touch_dims(touch)

    def resolution(row, created_by=""):
        by_staff = (created_by or "").startswith(STAFF) or staff.involved(row.debtor_id, row.at)
        facts.add("resolution", 1, detail="agent" if by_staff else "self", **attributed(row))

    for row in payments:
        credited = row.amount_minor + row.discount_minor - row.surplus_minor
        facts.add("credited", 1, credited, **_fixed(row))
        facts.add("collected", 1, row.amount_minor - row.surplus_minor, **attributed(row))
        resolution(row)
    for row in upheld:
        facts.add("written_off", 1, row.balance_minor, **_fixed(row))
    for row in promises:
        facts.add("promise_made", 1, row.amount_minor, **attributed(row))
        resolution(row, row.created_by)
    for row in due:
        facts.add("promise_due", 1, row.amount_minor, detail=row.status, **attributed(row))
    for row in plans:
        facts.add("plan_created", 1, row.total_minor, **attributed(row))
        resolution(row, row.created_by)
    for row in claims:
        facts.add("claim", 1, **attributed(row))
    for row in disputes:
        facts.add("dispute", 1, **attributed(row))
    for row in opt_outs:
        facts.add("opt_out", 1, detail=row.kind, **attributed(row))


def _opt_outs(session, day):
    """Debtors who opted out of a channel or said it is the wrong number on the day, with
    their first account's dimensions."""
    own = aliased(Account)
    first = (
        select(own.id)
        .where(own.debtor_id == Debtor.id)
        .order_by(own.id)
        .limit(1)
        .correlate(Debtor)
        .scalar_subquery()
    )
    columns = {
        "whatsapp": Debtor.opted_out_whatsapp_at,
        "sms": Debtor.opted_out_sms_at,
        "wrong_number": Debtor.wrong_number_at,
    }
    rows = session.execute(
        select(*columns.values(), *_ACCOUNT)
        .select_from(Debtor)
        .join(Account, Account.id == first)
        .where(or_(*((c >= day.start) & (c < day.end) for c in columns.values())))
    ).all()
    out = []
    for row in rows:
        for kind, at in zip(columns, row[:3], strict=True):
            if at is not None and day.start <= at < day.end:
                out.append(_Event(kind, at, row))
    return out


class _Event:
    """An opt-out with the account columns the facts need."""

    def __init__(self, kind, at, row):
        self.kind, self.at = kind, at
        for name in ("account_id", "debtor_id", "label", "currency", "due_date", "country"):
            setattr(self, name, getattr(row, name))
