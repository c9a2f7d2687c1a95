"""Proactive reminders and campaigns: plan rows from the data, gate them, send them.

Planning writes scheduled_messages rows (unique per account, step and date, so replanning
adds nothing); dispatching gates the rows that are due, renders the allowed ones into
outbound messages and enqueues them; deferred rows get a later due_at and wait in the
database. Everything streams in keyset-paged batches, so memory stays bounded at any size.
"""

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace

import requests
from flask import current_app
from redis.exceptions import LockError
from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from twilio.base.exceptions import TwilioRestException

from bot import audit
from bot.models import (
    Account,
    AuditEvent,
    Conversation,
    Debtor,
    Installment,
    Message,
    Payment,
    PaymentPlan,
    Promise,
    ScheduledMessage,
    Segment,
    TemplateKey,
    utcnow,
)
from bot.money import money_var
from bot.outbound import messaging
from bot.payments import links
from bot.reminders import gate
from bot.templates import store as templates

log = logging.getLogger(__name__)

COLLECTIBLE = ("open", "plan")
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
# A step missed by a day or two (the worker was down) is still planned; expiry drops stale ones.
LOOKBACK_DAYS = 2

DEFAULT_CADENCE = [
    {"kind": "due", "offset": -3},
    {"kind": "due", "offset": 0},
    {"kind": "due", "offset": 1},
    {"kind": "due", "offset": 7},
    {"kind": "due", "offset": 15},
    {"kind": "due", "offset": 30},
    {"kind": "installment", "offset": -1},
    {"kind": "installment", "offset": 0},
    {"kind": "promise", "offset": 0},
    {"kind": "promise", "offset": 1},
]
# Seeded by migration 0007; admins edit them with `flask reminders segment-set`.
DEFAULT_SEGMENTS = [
    {
        "name": "broken_promises",
        "priority": 10,
        "criteria": {"min_broken_promises": 1},
        "cadence": DEFAULT_CADENCE,
        "tone": "firm",
        "offer": "plan",
    },
    {
        "name": "late",
        "priority": 20,
        "criteria": {"min_days_overdue": 31},
        "cadence": DEFAULT_CADENCE,
        "tone": "firm",
        "offer": "discount",
    },
    {
        "name": "good_payers",
        "priority": 30,
        "criteria": {"min_payments": 1, "max_broken_promises": 0},
        "cadence": DEFAULT_CADENCE,
        "tone": "friendly",
        "offer": None,
    },
    {
        "name": "default",
        "priority": 1000,
        "criteria": {},
        "cadence": DEFAULT_CADENCE,
        "tone": "friendly",
        "offer": "plan",
    },
]


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


# -- planning -----------------------------------------------------------------------------------


def _insert_ignore(session, rows):
    """Insert scheduled rows, skipping those already planned (the unique step key)."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    stmt = module.insert(ScheduledMessage).on_conflict_do_nothing()
    return session.execute(stmt, rows).rowcount or 0


def _account_stats():
    """Accounts with their payment history, one row each (for segments)."""
    broken = (
        select(Promise.account_id, func.count().label("n"))
        .where(Promise.status == "broken")
        .group_by(Promise.account_id)
        .subquery()
    )
    kept = (
        select(Promise.account_id, func.count().label("n"))
        .where(Promise.status == "kept")
        .group_by(Promise.account_id)
        .subquery()
    )
    paid = (
        select(Payment.account_id, func.count().label("n"))
        .where(Payment.status == "succeeded")
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
            Debtor.timezone,
            func.coalesce(broken.c.n, 0).label("broken"),
            func.coalesce(kept.c.n, 0).label("kept"),
            func.coalesce(paid.c.n, 0).label("payments"),
        )
        .join(Debtor, Debtor.id == Account.debtor_id)
        .outerjoin(broken, broken.c.account_id == Account.id)
        .outerjoin(kept, kept.c.account_id == Account.id)
        .outerjoin(paid, paid.c.account_id == Account.id)
        .where(Account.status.in_(COLLECTIBLE), Account.balance_minor > 0)
    )


def _stream(session, stmt, key_column, batch):
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


def _first_name(full_name):
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
    by_segment: dict = field(default_factory=dict)

    def summary(self):
        segments = ", ".join(f"{k}: {v}" for k, v in sorted(self.by_segment.items())) or "none"
        return f"{self.accounts} account(s) read, {self.planned} reminder(s) planned ({segments})"


def plan(session, today=None, now=None, only_segment=None, batch=None):
    """Plan the cadence steps that fall due today, in the debtor's own calendar (or were
    missed in the last days). `today` forces one date for everybody."""
    now = now or utcnow()
    fixed_today = today
    rules = gate.load_rules(session)
    batch = batch or current_app.config["REMINDER_BATCH"]
    max_delay = timedelta(hours=current_app.config["REMINDER_MAX_DELAY_HOURS"])
    segments = load_segments(session)
    keys = _Keys(session)
    report = PlanReport()
    session.commit()
    for rows in _stream(session, _account_stats(), Account.id, batch):
        report.accounts += len(rows)
        ids = [r.id for r in rows]
        installments, promises = _dated_items(session, ids, now.date())
        new = []
        for r in rows:
            today = fixed_today or _local_date(rules, r, now)
            stats = {
                "days_overdue": (today - r.due_date).days,
                "balance_minor": r.balance_minor,
                "currency": r.currency,
                "broken": r.broken,
                "kept": r.kept,
                "payments": r.payments,
            }
            segment = segment_for(segments, stats, r.label)
            if segment is None or (only_segment and segment.name != only_segment):
                continue
            base = {"first_name": _first_name(r.full_name), "reference": r.external_id}
            # A debt on a plan is reminded of its installments, one with a promise not yet
            # due of that promise: not of the whole balance as overdue.
            waiting = r.status == "plan" or any(
                p.promised_date >= today for p in promises.get(r.id, ())
            )
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
                    new.append(
                        _row(r, name, ref_date, segment.name, keys(kind, segment.tone), variables)
                        | {"due_at": now, "expires_at": now + max_delay}
                    )
                    report.by_segment[segment.name] = report.by_segment.get(segment.name, 0) + 1
        report.planned += _insert_ignore(session, new)
        session.commit()
    return report


def _local_date(rules, r, now):
    """The debtor's date at now (the first zone of a number that spans several)."""
    rule = rules.get(r.country) or rules["*"]
    return gate.local_date(now, gate.zones_for(r.phone, r.timezone, rule)[0])


def _row(account_row, step, ref_date, segment, key, variables):
    return {
        "debtor_id": account_row.debtor_id,
        "account_id": account_row.id,
        "step": step,
        "ref_date": ref_date,
        "segment": segment,
        "template_key": key,
        "variables": variables,
        "status": "planned",
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
        .where(PaymentPlan.account_id.in_(account_ids), PaymentPlan.status == "active")
        .where(Installment.status.in_(("due", "late")), Installment.due_date.between(low, high))
    ):
        installments.setdefault(row.account_id, []).append(row)
    for row in session.execute(
        select(Promise.account_id, Promise.id, Promise.promised_date, Promise.amount_minor)
        .where(Promise.account_id.in_(account_ids), Promise.status == "pending")
        .where(Promise.promised_date.between(low, high))
    ):
        promises.setdefault(row.account_id, []).append(row)
    return installments, promises


def schedule_thank_you(session, payment, now=None):
    """Plan a thank-you for a payment (called by payment reconciliation); idempotent.

    Returns the number of rows added (0 when it was already planned). The caller commits."""
    now = now or utcnow()
    account = session.get(Account, payment.account_id)
    if account is None:
        return 0
    keys = _Keys(session)
    row = _row(
        SimpleNamespace(id=account.id, debtor_id=account.debtor_id),
        f"thank_you:{payment.id}",
        (payment.received_at or now).date(),
        account.segment,
        keys("thank_you", "friendly"),
        {
            "first_name": _first_name(account.debtor.full_name),
            "amount": money_var(payment.amount_minor, payment.currency),
            "reference": account.external_id,
        },
    )
    max_delay = timedelta(hours=current_app.config["REMINDER_MAX_DELAY_HOURS"])
    return _insert_ignore(session, [row | {"due_at": now, "expires_at": now + max_delay}])


def schedule_campaign(
    session, name, template_key, segment=None, now=None, batch=None, dry_run=False
):
    """Plan a one-off message to every collectible account (of one segment, if given)."""
    now = now or utcnow()
    batch = batch or current_app.config["REMINDER_BATCH"]
    if session.get(TemplateKey, template_key) is None:
        raise ReminderError(f"unknown template key {template_key!r}")
    segments = load_segments(session)
    if segment and segment not in {s.name for s in segments}:
        raise ReminderError(f"unknown or inactive segment {segment!r}")
    max_delay = timedelta(hours=current_app.config["REMINDER_MAX_DELAY_HOURS"])
    today = now.date()
    report = PlanReport()
    for rows in _stream(session, _account_stats(), Account.id, batch):
        report.accounts += len(rows)
        new = []
        for r in rows:
            stats = {
                "days_overdue": (today - r.due_date).days,
                "balance_minor": r.balance_minor,
                "currency": r.currency,
                "broken": r.broken,
                "kept": r.kept,
                "payments": r.payments,
            }
            chosen = segment_for(segments, stats, r.label)
            if segment and (chosen is None or chosen.name != segment):
                continue
            variables = {
                "first_name": _first_name(r.full_name),
                "reference": r.external_id,
                "amount": money_var(r.balance_minor, r.currency),
                "due_date": r.due_date.isoformat(),
                "days_overdue": max(stats["days_overdue"], 0),
            }
            new.append(
                _row(
                    r,
                    f"campaign:{name}",
                    today,
                    chosen.name if chosen else None,
                    template_key,
                    variables,
                )
                | {"due_at": now, "expires_at": now + max_delay}
            )
        report.planned += len(new) if dry_run else _insert_ignore(session, new)
        report.by_segment[segment or "all"] = report.planned
        session.commit()
    return report


# -- dispatching --------------------------------------------------------------------------------


@dataclass
class DispatchReport:
    queued: int = 0
    deferred: int = 0
    suppressed: int = 0
    reasons: dict = field(default_factory=dict)

    def count(self, action, reason):
        setattr(self, action, getattr(self, action) + 1)
        if reason:
            self.reasons[reason] = self.reasons.get(reason, 0) + 1

    def summary(self):
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(self.reasons.items())) or "none"
        return (
            f"{self.queued} queued, {self.deferred} deferred, {self.suppressed} suppressed "
            f"(reasons: {reasons})"
        )


class _Renderer:
    """templates.render with the template rows cached for one dispatch run."""

    def __init__(self, session):
        self.session = session
        self.cache = {}

    def __call__(self, key, locale, variables):
        if (key, locale) not in self.cache:
            row, used = templates.lookup(self.session, key, locale)
            spec = self.session.get(TemplateKey, key)
            self.cache[key, locale] = (row.body, used, spec.variables if spec else {}, spec)
        body, used, declared, spec = self.cache[key, locale]
        fmt = locale if locale.split("-")[0] == used.split("-")[0] else used
        return templates.render_body(body, declared, variables, fmt), spec, fmt

    def offer(self, offer, locale, variables):
        if not offer:
            return ""
        text, _spec, _fmt = self(f"reminder.offer.{offer}", locale, variables)
        return "\n\n" + text


def _due_rows(now, last_id, batch, step_prefix=None):
    stmt = (
        select(
            ScheduledMessage.id,
            ScheduledMessage.debtor_id,
            ScheduledMessage.account_id,
            ScheduledMessage.step,
            ScheduledMessage.template_key,
            ScheduledMessage.variables,
            ScheduledMessage.due_at,
            ScheduledMessage.expires_at,
            Debtor.phone,
            Debtor.country,
            Debtor.timezone,
            Debtor.locale,
            Debtor.opted_out_whatsapp_at,
            Debtor.opted_out_sms_at,
            Debtor.wrong_number_at,
            Account.status.label("account_status"),
        )
        .join(Debtor, Debtor.id == ScheduledMessage.debtor_id)
        .join(Account, Account.id == ScheduledMessage.account_id)
        .where(or_(ScheduledMessage.status == "planned", ScheduledMessage.status == "deferred"))
        .where(ScheduledMessage.due_at <= now)
        .where(ScheduledMessage.id > last_id)
        .order_by(ScheduledMessage.id)
        .limit(batch)
    )
    if step_prefix:
        stmt = stmt.where(ScheduledMessage.step.startswith(step_prefix))
    return stmt


# Rows change in bulk (executemany): at campaign sizes the ORM's per-object work dominated.
_UPDATE = (
    update(ScheduledMessage)
    .where(ScheduledMessage.id == bindparam("b_id"))
    # Only rows still waiting: a row another dispatcher already queued is left as it is.
    .where(or_(ScheduledMessage.status == "planned", ScheduledMessage.status == "deferred"))
    .values(
        status=bindparam("b_status"),
        reason=bindparam("b_reason"),
        channel=bindparam("b_channel"),
        due_at=bindparam("b_due_at"),
        contacted_at=bindparam("b_contacted_at"),
        message_id=bindparam("b_message_id"),
        updated_at=bindparam("b_updated_at"),
    )
)


_INSERT_MESSAGE = insert(Message)


def dispatch(
    session, now=None, batch=None, enqueue=True, step_prefix=None, dry_run=False, heartbeat=None
):
    """Gate every due row; queue the allowed ones as outbound messages (and enqueue their
    sends), defer or suppress the rest with the reason in the audit log. heartbeat is called
    after each batch (it renews the dispatcher's lock, so no second dispatcher starts)."""
    now = now or utcnow()
    batch = batch or current_app.config["REMINDER_BATCH"]
    ctx = gate.Context.load(session)
    render = _Renderer(session)
    report = DispatchReport()
    last_id = 0
    while True:
        rows = session.execute(_due_rows(now, last_id, batch, step_prefix)).all()
        if not rows:
            break
        last_id = rows[-1].id
        ctx.load_debtors(session, [r.debtor_id for r in rows], now)
        done = _steps_done(session, rows)
        changes, audits, sends = [], [], []
        for r in rows:
            decision = done.get(r.id) or gate.check(ctx, r, now)
            if decision.action == "send":
                ctx.contacted(r.debtor_id, now)
                sends.append((r, decision))
            elif decision.action == "defer":
                report.count("deferred", decision.reason)
                changes.append(_change(r, "deferred", decision.reason, due_at=decision.next_at))
                audits.append(
                    _audit(
                        r.id,
                        "reminder.deferred",
                        {"reason": decision.reason, "until": decision.next_at.isoformat()},
                    )
                )
            else:
                report.count("suppressed", decision.reason)
                changes.append(_change(r, "suppressed", decision.reason))
                audits.append(_audit(r.id, "reminder.suppressed", {"reason": decision.reason}))
        if dry_run:
            report.queued += len(sends)
            session.rollback()
            continue
        conversations = _conversations(session, [(d.channel, r) for r, d in sends])
        queued = []
        for r, decision in sends:
            conversation_id, conv_locale = conversations[decision.channel, r.phone]
            try:
                values = _outbound(r, decision, conv_locale or r.locale, render)
            except templates.TemplateError as exc:
                log.error("reminder %s cannot be rendered: %s", r.id, exc)
                report.count("suppressed", "render_error")
                changes.append(_change(r, "suppressed", "render_error"))
                audits.append(_audit(r.id, "reminder.suppressed", {"reason": "render_error"}))
                continue
            values["conversation_id"] = conversation_id
            # One compiled statement for every row; only the parameters change.
            message_id = session.execute(_INSERT_MESSAGE, values).inserted_primary_key[0]
            report.count("queued", None)
            changes.append(
                _change(
                    r, "queued", None, decision.channel, contacted_at=now, message_id=message_id
                )
            )
            queued.append(r.id)
        if changes:
            session.execute(_UPDATE, changes)
        if audits:
            session.execute(insert(AuditEvent), audits)
        session.commit()
        if enqueue and queued:
            enqueue_sends(queued)
        if heartbeat is not None:
            heartbeat()
    return report


def _steps_done(session, rows):
    """Suppress installment and promise reminders whose installment was paid or whose promise
    was kept, broken or cancelled since planning: {scheduled id: Decision}."""
    wanted = {"installment": {}, "promise": {}}
    for r in rows:
        kind, _, rest = r.step.partition(":")
        if kind in wanted:
            wanted[kind][r.id] = int(rest.split(":")[0])
    done = {}
    checks = (
        ("installment", Installment, ("due", "late"), "installment_paid"),
        ("promise", Promise, ("pending",), "promise_settled"),
    )
    for kind, model, open_statuses, reason in checks:
        ids = set(wanted[kind].values())
        if not ids:
            continue
        still_open = set(
            session.execute(
                select(model.id).where(model.id.in_(ids), model.status.in_(open_statuses))
            ).scalars()
        )
        for scheduled_id, item_id in wanted[kind].items():
            if item_id not in still_open:
                done[scheduled_id] = gate.Decision("suppress", reason)
    return done


def _change(r, status, reason, channel=None, due_at=None, contacted_at=None, message_id=None):
    return {
        "b_id": r.id,
        "b_status": status,
        "b_reason": reason,
        "b_channel": channel,
        "b_due_at": due_at or r.due_at,
        "b_contacted_at": contacted_at,
        "b_message_id": message_id,
        "b_updated_at": utcnow(),
    }


def _audit(scheduled_id, action, data):
    return {
        "at": utcnow(),
        "actor": "gate",
        "action": action,
        "subject_type": ScheduledMessage.__tablename__,
        "subject_id": str(scheduled_id),
        "data": data,
    }


def _suppress(session, sm, reason, actor="gate"):
    sm.status, sm.reason = "suppressed", reason
    audit.record(session, actor, "reminder.suppressed", sm, {"reason": reason})


def _conversations(session, wanted):
    """(id, locale) of the conversations for [(channel, row)], created where missing."""
    if not wanted:
        return {}
    phones = {r.phone for _channel, r in wanted}

    def known():
        found = session.execute(
            select(
                Conversation.id, Conversation.channel, Conversation.address, Conversation.locale
            ).where(Conversation.address.in_(phones))
        ).all()
        return {(c.channel, c.address): (c.id, c.locale) for c in found}

    found = known()
    debtor_of = {(channel, r.phone): r.debtor_id for channel, r in wanted}
    missing = debtor_of.keys() - found.keys()
    if missing:
        stamp = utcnow()
        rows = [
            {
                "channel": channel,
                "address": phone,
                "debtor_id": debtor_of[channel, phone],
                "state": "bot",
                "verification_failures": 0,
                "needs_agent": False,
                "created_at": stamp,
                "updated_at": stamp,
            }
            for channel, phone in sorted(missing)
        ]
        # A conversation created meanwhile by an inbound message is simply reused.
        dialect = session.get_bind().dialect.name
        module = postgresql if dialect == "postgresql" else sqlite
        session.execute(module.insert(Conversation).on_conflict_do_nothing(), rows)
        found = known()
    return found


def _outbound(r, decision, locale, render):
    """The outbound message's values for an allowed reminder, in the debtor's locale."""
    variables = dict(r.variables or {})
    account = SimpleNamespace(id=r.account_id, debtor_id=r.debtor_id)
    variables["url"] = links.payment_url(account)
    body, spec, fmt = render(r.template_key, locale, variables)
    body += render.offer(variables.get("offer"), locale, variables)
    values = {
        "direction": "out",
        "template_key": r.template_key,
        "variables": variables,
        "body": body,
        "status": "pending",
        "attempts": 0,
        "created_at": utcnow(),
        "updated_at": utcnow(),
        "content_sid": None,
        "content_variables": None,
    }
    if decision.content_sid:
        values["content_sid"] = decision.content_sid
        values["content_variables"] = templates.content_variables(spec, variables, fmt)
    return values


def enqueue_sends(ids):
    """Enqueue send jobs for queued reminders, a few ids per job, in one Redis round trip."""
    from bot.tasks import queues

    size = current_app.config["REMINDER_SEND_BATCH"]
    with queues.redis_conn().pipeline() as pipe:
        for start in range(0, len(ids), size):
            queues.enqueue_reminder_send(ids[start : start + size], pipeline=pipe)
        pipe.execute()


# -- sending ------------------------------------------------------------------------------------


def send(session, ids, client, bucket_for, threads=8, now=None):
    """Send queued reminders through the shared rate limit; never twice.

    The batch is marked 'sending' in one commit, sent by a few threads (each request waits
    for a token of the sender's bucket), and the outcomes are recorded in one commit: a
    send whose outcome is unknown stays 'sending' and is reconciled with Twilio before any
    resend (messaging.deliver). A Twilio outage raises messaging.ProviderUnavailable for
    the job to retry; the rows already sent stay sent."""
    from bot.tasks.queues import redis_conn

    locks = []
    try:
        for sm_id in ids:
            # A re-enqueued job may overlap a slow one: one sender per reminder at a time.
            lock = redis_conn().lock(f"lock:reminder:{sm_id}", timeout=300)
            if lock.acquire(blocking=False):
                locks.append((sm_id, lock))
        _send_locked(session, [sm_id for sm_id, _ in locks], client, bucket_for, threads, now)
    finally:
        for sm_id, lock in locks:
            try:
                lock.release()
            except LockError:
                log.warning("reminder %s lock expired while sending", sm_id)


def _send_locked(session, ids, client, bucket_for, threads, now=None):
    if not ids:
        return
    rows = session.execute(
        select(ScheduledMessage, Message)
        .join(Message, Message.id == ScheduledMessage.message_id)
        .where(ScheduledMessage.id.in_(ids), ScheduledMessage.status == "queued")
        .order_by(ScheduledMessage.id)
        .execution_options(populate_existing=True)
    ).all()
    retry = None
    fresh = []
    held_back = _held_back(session, rows, now or utcnow())
    for sm, message in rows:
        if message.status == "pending" and sm.id in held_back:
            _hold_back(session, sm, message, *held_back[sm.id])
            continue
        if message.status == "sending":  # an earlier attempt was interrupted: reconcile first
            try:
                messaging.deliver(session, message, client)
            except messaging.ProviderUnavailable as exc:
                retry = retry or exc
                continue
            _settle(session, sm, message)
        elif message.status == "pending":
            message.status, message.attempts = "sending", message.attempts + 1
            sm.attempts += 1
            fresh.append((sm, message, messaging.create_params(message)))
        else:
            _settle(session, sm, message)
    session.commit()
    if fresh:
        retry = _send_fresh(session, fresh, client, bucket_for, threads) or retry
    if retry is not None:
        raise retry


def _held_back(session, rows, now):
    """The gate's rules and hours again at send time: a queued reminder may have waited through
    an outage while the debtor opted out, paid, disputed or was taken by an agent, or the night
    came. {reminder id: (reason, defer until or None to suppress)}."""
    pending = [(sm, m) for sm, m in rows if m.status == "pending"]
    if not pending:
        return {}
    debtors = {
        d.id: d
        for d in session.execute(
            select(Debtor).where(Debtor.id.in_({sm.debtor_id for sm, _ in pending}))
        ).scalars()
    }
    accounts = {
        a.id: a
        for a in session.execute(
            select(Account).where(Account.id.in_({sm.account_id for sm, _ in pending}))
        ).scalars()
    }
    held = set(
        session.execute(
            select(Conversation.debtor_id).where(
                Conversation.debtor_id.in_(list(debtors)), Conversation.state == "agent"
            )
        ).scalars()
    )
    rules = gate.load_rules(session)
    out = {}
    for sm, message in pending:
        debtor, account = debtors[sm.debtor_id], accounts[sm.account_id]
        channel = message.conversation.channel
        opted_out = (
            debtor.opted_out_whatsapp_at if channel == "whatsapp" else debtor.opted_out_sms_at
        )
        reason = gate.rule_block(debtor.wrong_number_at, account.status, sm.step, debtor.id in held)
        if reason is None and opted_out is not None:
            reason = f"opted_out_{channel}"
        if reason is None and now > sm.expires_at:
            reason = "expired"
        if reason:
            out[sm.id] = (reason, None)
            continue
        rule = rules.get(debtor.country) or rules["*"]
        zones = gate.zones_for(debtor.phone, debtor.timezone, rule)
        closed = gate.hours_block(rule, debtor.country, zones, now)
        if closed:
            until = gate.next_allowed(rule, debtor.country, zones, now)
            out[sm.id] = (closed, until if until and until <= sm.expires_at else None)
    return out


def _hold_back(session, sm, message, reason, until):
    """Not now after all: the message is never sent; the reminder waits or is suppressed."""
    message.status, message.error_message = "suppressed", f"held back at send time: {reason}"
    if until is None:
        _suppress(session, sm, reason, actor="worker")
        return
    sm.status, sm.reason, sm.due_at = "deferred", reason, until
    audit.record(
        session, "worker", "reminder.deferred", sm, {"reason": reason, "until": str(until)}
    )


def _send_fresh(session, fresh, client, bucket_for, threads):
    # Buckets are made here, in the job's app context; the pool's threads only use them.
    buckets = {m.conversation.channel: None for _sm, m, _p in fresh}
    buckets = {channel: bucket_for(channel) for channel in buckets}

    def create(message, params):
        if not buckets[message.conversation.channel].take():
            raise _NoToken()
        return client.messages.create(**params)

    # create_params loaded each message's conversation in this thread: the pool's threads
    # only read it, and never touch the session.
    with ThreadPoolExecutor(max_workers=min(threads, len(fresh))) as pool:
        futures = [pool.submit(create, message, params) for _sm, message, params in fresh]
        outcomes = []
        for future in futures:
            try:
                outcomes.append((future.result(), None))
            except (TwilioRestException, requests.RequestException, _NoToken) as exc:
                outcomes.append((None, exc))
    retry = None
    for (_sm, message, _params), (sent, error) in zip(fresh, outcomes, strict=True):
        if isinstance(error, _NoToken):
            message.status = "pending"  # never sent
            retry = retry or messaging.ProviderUnavailable("send rate limit: no token in time")
            continue
        retry = messaging.record_outcome(session, message, sent, error) or retry
    session.commit()
    for sm, message, _params in fresh:
        if message.provider_sid:
            messaging.apply_early_status(session, message)
        _settle(session, sm, message)
    session.commit()
    return retry


class _NoToken(RuntimeError):
    """The rate limit gave no token in time; the message was not sent."""


def _settle(session, sm, message):
    """Move the reminder on from its message's state (the caller commits)."""
    if sm.message_id != message.id or sm.status != "queued":
        return  # a 63016 callback already moved it on to its SMS fallback
    if message.status == "failed" and message.error_code == messaging.OUTSIDE_WINDOW:
        _outside_window(session, sm, message)
    elif message.status == "failed":
        sm.status, sm.reason = "failed", f"twilio:{message.error_code}"
        audit.record(session, "worker", "reminder.failed", sm, {"error": message.error_code})
    elif message.status not in ("pending", "sending"):
        sm.status = "sent"


def _outside_window(session, sm, message):
    """Twilio said 63016 (outside the 24-hour window): SMS when allowed, else suppress."""
    debtor = session.get(Debtor, sm.debtor_id)
    rule = gate.load_rules(session)
    rule = rule.get(debtor.country) or rule["*"]
    if (
        message.conversation.channel == "whatsapp"
        and rule.sms_fallback
        and debtor.opted_out_sms_at is None
    ):
        conversation = messaging.get_or_create_conversation(session, "sms", debtor.phone)
        fallback = Message(
            conversation_id=conversation.id,
            direction="out",
            template_key=message.template_key,
            variables=message.variables,
            body=message.body,
            status="pending",
        )
        session.add(fallback)
        sm.message, sm.channel, sm.reason = fallback, "sms", "fallback:63016"
        sm.status = "queued"
        audit.record(
            session,
            "worker",
            "reminder.fallback",
            sm,
            {"from": "whatsapp", "to": "sms", "error": "63016"},
        )
        session.commit()
        enqueue_sends([sm.id])
        return
    _suppress(session, sm, "outside_window", actor="worker")


def outside_window(session, message):
    """A status callback said 63016 for message: handle it if a reminder sent it."""
    sm = session.execute(
        select(ScheduledMessage).where(ScheduledMessage.message_id == message.id)
    ).scalar_one_or_none()
    if sm is None:
        return False
    if sm.status not in ("queued", "sent"):
        return True
    session.refresh(message)
    _outside_window(session, sm, message)
    session.commit()
    return True


def requeue_stale(session, now=None, after=None):
    """Re-enqueue queued reminders whose send job was lost (Redis flushed, retries spent)."""
    now = now or utcnow()
    after = after if after is not None else current_app.config["REMINDER_REQUEUE_AFTER"]
    ids = list(
        session.execute(
            select(ScheduledMessage.id)
            .where(ScheduledMessage.status == "queued")
            .where(ScheduledMessage.updated_at < now - timedelta(seconds=after))
            .limit(5000)
        ).scalars()
    )
    session.commit()
    if ids:
        # Touch them so the next sweep waits again before re-enqueueing.
        session.execute(
            ScheduledMessage.__table__.update()
            .where(ScheduledMessage.id.in_(ids))
            .values(updated_at=now)
        )
        session.commit()
        enqueue_sends(ids)
    return len(ids)


def on_payment(session, payment):
    """A payment hook: cancel the reminders a payment made pointless.

    A settled account loses every pending reminder; otherwise the steps of installments now
    paid and of promises no longer pending go. The next installment's own steps stay planned,
    so the cadence moves on to it. Returns no messages (the payment's thank-you is sent by the
    payments service)."""
    account = session.get(Account, payment.account_id)
    pending = (
        session.execute(
            select(ScheduledMessage).where(
                ScheduledMessage.account_id == payment.account_id,
                ScheduledMessage.status.in_(("planned", "deferred")),
            )
        )
        .scalars()
        .all()
    )
    settled = account is not None and account.status in ("paid", "closed")
    paid_installments = {
        str(i.id)
        for plan in (account.plans if account is not None else [])
        for i in plan.installments
        if i.status == "paid"
    }
    open_promises = {
        str(p.id)
        for p in session.execute(
            select(Promise).where(
                Promise.account_id == payment.account_id, Promise.status == "pending"
            )
        ).scalars()
    }
    for sm in pending:
        kind, _, rest = sm.step.partition(":")
        ref = rest.split(":", 1)[0]
        if settled and kind != "thank_you":
            _suppress(session, sm, "account_paid", actor="system")
        elif kind == "installment" and ref in paid_installments:
            _suppress(session, sm, "installment_paid", actor="system")
        elif kind == "promise" and ref not in open_promises:
            _suppress(session, sm, "promise_settled", actor="system")
    return []
