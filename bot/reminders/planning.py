"""Planning: the cadence steps that fall due today, in each debtor's own calendar, written as
scheduled_messages rows (unique per account, step and date, so planning twice adds nothing).
Everything streams in keyset-paged batches, so memory stays bounded at any size."""

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from flask import current_app
from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bot import clock, statuses
from bot.clock import utcnow
from bot.contact.hours import zones_for
from bot.contact.rules import load_rules, rule_for
from bot.models import (
    Account,
    AuditEvent,
    Debtor,
    Installment,
    Payment,
    PaymentPlan,
    Promise,
    ScheduledMessage,
    TemplateKey,
)
from bot.money import money_var
from bot.reminders.segments import load_segments, segment_for, stats_of

# A step missed by a day or two (the worker was down) is still planned; expiry drops stale ones.
LOOKBACK_DAYS = 2
# The last step of a cadence waits this long for a legal slot (the others wait for the next
# step, which takes their place): a cadence never silently loses its last word.
LAST_STEP_DAYS = 14


def insert_ignore(session, rows):
    """Insert scheduled rows, skipping those already planned (the unique step key)."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    stmt = module.insert(ScheduledMessage).on_conflict_do_nothing()
    return session.execute(stmt, rows).rowcount or 0


def account_stats():
    """Accounts with their payment history, one row each (for segments)."""
    broken = (
        select(Promise.account_id, func.count().label("n"))
        .where(Promise.status == statuses.Promise.BROKEN)
        .group_by(Promise.account_id)
        .subquery()
    )
    kept = (
        select(Promise.account_id, func.count().label("n"))
        .where(Promise.status == statuses.Promise.KEPT)
        .group_by(Promise.account_id)
        .subquery()
    )
    paid = (
        select(Payment.account_id, func.count().label("n"))
        .where(Payment.status == statuses.Payment.SUCCEEDED)
        .group_by(Payment.account_id)
        .subquery()
    )
    return (
        select(
            Account.id,
            Account.debtor_id,
            Account.external_id,
            Account.currency,
            Account.balance_minor,
            Account.due_date,
            Account.segment.label("label"),
            Account.status,
            Debtor.full_name,
            Debtor.phone,
            Debtor.country,
            Debtor.region,
            Debtor.timezone,
            func.coalesce(broken.c.n, 0).label("broken"),
            func.coalesce(kept.c.n, 0).label("kept"),
            func.coalesce(paid.c.n, 0).label("payments"),
        )
        .join(Debtor, Debtor.id == Account.debtor_id)
        .outerjoin(broken, broken.c.account_id == Account.id)
        .outerjoin(kept, kept.c.account_id == Account.id)
        .outerjoin(paid, paid.c.account_id == Account.id)
        .where(Account.status.in_(statuses.Account.COLLECTIBLE), Account.balance_minor > 0)
    )


def stream(session, stmt, key_column, batch):
    """Yield lists of rows of stmt in key order, batch at a time (keyset paging)."""
    last = None
    while True:
        page = stmt.order_by(key_column).limit(batch)
        if last is not None:
            page = page.where(key_column > last)
        rows = session.execute(page).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def first_name(full_name):
    return (full_name or "").split(" ")[0]


class _Keys:
    """Template keys for (kind, tone), falling back to the friendly tone."""

    def __init__(self, session):
        self.known = set(session.execute(select(TemplateKey.key)).scalars())

    def __call__(self, kind, tone):
        key = f"reminder.{kind}.{tone}"
        return key if key in self.known else f"reminder.{kind}.friendly"


def _due_kind(offset):
    return "upcoming" if offset < 0 else ("due" if offset == 0 else "overdue")


@dataclass
class PlanReport:
    accounts: int = 0
    planned: int = 0
    superseded: int = 0
    by_segment: dict = field(default_factory=dict)

    def summary(self):
        segments = ", ".join(f"{k}: {v}" for k, v in sorted(self.by_segment.items())) or "none"
        text = f"{self.accounts} account(s) read, {self.planned} reminder(s) planned ({segments})"
        return text + (f"; {self.superseded} superseded" if self.superseded else "")


def plan(session, today=None, now=None, only_segment=None, batch=None):
    """Plan the cadence steps that fall due today, in the debtor's own calendar (or were
    missed in the last days). `today` forces one date for everybody."""
    now = now or utcnow()
    fixed_today = today
    rules = load_rules(session, now.date())
    batch = batch or current_app.config["REMINDER_BATCH"]
    max_delay = timedelta(hours=current_app.config["REMINDER_MAX_DELAY_HOURS"])
    segments = load_segments(session)
    keys = _Keys(session)
    report = PlanReport()
    session.commit()
    for rows in stream(session, account_stats(), Account.id, batch):
        report.accounts += len(rows)
        ids = [r.id for r in rows]
        installments, promises = _dated_items(session, ids, now.date())
        new = []
        for r in rows:
            today = fixed_today or local_today(rules, r, now)
            stats = stats_of(r, today)
            segment = segment_for(segments, stats, r.label)
            if segment is None or (only_segment and segment.name != only_segment):
                continue
            base = {"first_name": first_name(r.full_name), "reference": r.external_id}
            # A debt on a plan is reminded of its installments, one with a promise not yet
            # due of that promise: not of the whole balance as overdue.
            waiting = r.status == statuses.Account.PLAN or any(
                p.promised_date >= today for p in promises.get(r.id, ())
            )
            following = _following_offsets(segment.cadence or [])
            for step in segment.cadence or []:
                offset = step["offset"]
                if step["kind"] == "due" and waiting:
                    continue
                if step["kind"] == "due":
                    dated = [(f"due:{offset}", r.due_date, r.balance_minor, _due_kind(offset))]
                elif step["kind"] == "installment":
                    dated = [
                        (f"installment:{i.id}:{offset}", i.due_date, i.amount, "installment")
                        for i in installments.get(r.id, ())
                    ]
                else:
                    dated = [
                        (f"promise:{p.id}:{offset}", p.promised_date, p.amount_minor, "promise")
                        for p in promises.get(r.id, ())
                    ]
                for name, ref_date, amount, kind in dated:
                    fire = ref_date + timedelta(days=offset)
                    if not today - timedelta(days=LOOKBACK_DAYS) <= fire <= today:
                        continue
                    variables = dict(
                        base,
                        amount=money_var(amount, r.currency),
                        due_date=ref_date.isoformat(),
                        days_overdue=max((today - ref_date).days, 0),
                    )
                    if segment.offer:
                        variables["offer"] = segment.offer
                    after = following[step["kind"], offset]
                    expires = _expiry(now, max_delay, ref_date, after)
                    successor = None if after is None else name.rsplit(":", 1)[0] + f":{after}"
                    new.append(
                        scheduled_row(
                            r, name, ref_date, segment.name, keys(kind, segment.tone), variables
                        )
                        | {"due_at": now, "expires_at": expires, "next_step": successor}
                    )
                    report.by_segment[segment.name] = report.by_segment.get(segment.name, 0) + 1
        report.planned += insert_ignore(session, new)
        report.superseded += supersede(session, ids)
        session.commit()
    return report


def _following_offsets(cadence):
    """{(kind, offset): the next offset of the same kind, or None for the last step}."""
    out = {}
    for kind in {step["kind"] for step in cadence}:
        offsets = sorted({step["offset"] for step in cadence if step["kind"] == kind})
        for here, after in zip(offsets, offsets[1:] + [None], strict=True):
            out[kind, here] = after
    return out


def _expiry(now, max_delay, ref_date, next_offset):
    """A step stays worth sending until the next step of its cadence fires (that one takes
    its place); the last step waits LAST_STEP_DAYS for a legal slot."""
    if next_offset is None:
        return now + timedelta(days=LAST_STEP_DAYS)
    successor = datetime.combine(ref_date + timedelta(days=next_offset), time()) + timedelta(days=1)
    return max(now + max_delay, successor)


def _step_key(step):
    """(kind, ref, offset): due:7 -> ("due", "", 7), installment:12:-1 -> (.., "12", -1)."""
    parts = step.split(":")
    if parts[0] == "due" and len(parts) == 2:
        return "due", "", int(parts[1])
    if parts[0] in ("installment", "promise") and len(parts) == 3:
        return parts[0], parts[1], int(parts[2])
    return None


def supersede(session, account_ids):
    """Of the reminders still waiting for the same debt, installment or promise, only the
    latest step goes: the earlier ones are suppressed as superseded (recorded, not dropped
    silently), so a cadence never sends two messages about one thing in a row."""
    waiting = session.execute(
        select(
            ScheduledMessage.id,
            ScheduledMessage.account_id,
            ScheduledMessage.step,
            ScheduledMessage.ref_date,
        ).where(
            ScheduledMessage.account_id.in_(account_ids),
            ScheduledMessage.status.in_(statuses.Reminder.WAITING),
        )
    ).all()
    groups = {}
    for row in waiting:
        key = _step_key(row.step)
        if key is not None:
            kind, ref, offset = key
            groups.setdefault((row.account_id, kind, ref, row.ref_date), []).append((offset, row))
    stamp = utcnow()
    changes, audits = [], []
    for items in groups.values():
        if len(items) < 2:
            continue
        items.sort(key=lambda item: item[0])
        latest = items[-1][1].step
        for _offset, row in items[:-1]:
            changes.append(row.id)
            audits.append(
                {
                    "at": stamp,
                    "actor": "planner",
                    "action": "reminder.superseded",
                    "subject_type": ScheduledMessage.__tablename__,
                    "subject_id": str(row.id),
                    "data": {"by": latest},
                }
            )
            session.execute(
                update(ScheduledMessage)
                .where(
                    ScheduledMessage.id == row.id,
                    ScheduledMessage.status.in_(statuses.Reminder.WAITING),
                )
                .values(
                    status=statuses.Reminder.SUPPRESSED,
                    reason=f"superseded:{latest}"[:64],
                    updated_at=stamp,
                )
            )
    if audits:
        session.execute(insert(AuditEvent), audits)
    return len(changes)


def local_today(rules, r, now):
    """The debtor's date at now (the first of their plausible zones)."""
    rule = rule_for(rules, r.country, getattr(r, "region", None))
    return clock.local_date(now, zones_for(r.phone, r.timezone, rule)[0])


def scheduled_row(account_row, step, ref_date, segment, key, variables):
    return {
        "debtor_id": account_row.debtor_id,
        "account_id": account_row.id,
        "step": step,
        "ref_date": ref_date,
        "segment": segment,
        "template_key": key,
        "variables": variables,
        "status": statuses.Reminder.PLANNED,
        "attempts": 0,
        "created_at": utcnow(),
        "updated_at": utcnow(),
    }


def _dated_items(session, account_ids, today):
    """Due installments of active plans and pending promises of these accounts, near today."""
    low, high = today - timedelta(days=400), today + timedelta(days=400)
    installments, promises = {}, {}
    for row in session.execute(
        select(
            PaymentPlan.account_id,
            Installment.id,
            Installment.due_date,
            (Installment.amount_minor - Installment.paid_minor).label("amount"),
        )
        .join(PaymentPlan, PaymentPlan.id == Installment.plan_id)
        .where(PaymentPlan.account_id.in_(account_ids))
        .where(PaymentPlan.status == statuses.Plan.ACTIVE)
        .where(Installment.status.in_(statuses.Installment.UNPAID))
        .where(Installment.due_date.between(low, high))
    ):
        installments.setdefault(row.account_id, []).append(row)
    for row in session.execute(
        select(Promise.account_id, Promise.id, Promise.promised_date, Promise.amount_minor)
        .where(Promise.account_id.in_(account_ids), Promise.status == statuses.Promise.PENDING)
        .where(Promise.promised_date.between(low, high))
    ):
        promises.setdefault(row.account_id, []).append(row)
    return installments, promises
