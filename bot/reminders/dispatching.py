"""Dispatching: every due reminder through the contact gate; the allowed ones rendered into
outbound messages and handed to send jobs, the others deferred (a later due_at) or suppressed,
with the reason in the row and the audit log."""

import logging
from dataclasses import dataclass, field
from types import SimpleNamespace

from flask import current_app
from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bot import outbox, statuses
from bot.clock import debtor_zone, local_date, utcnow
from bot.models import (
    Account,
    AuditEvent,
    Conversation,
    Debtor,
    Installment,
    Message,
    Promise,
    ScheduledMessage,
    TemplateKey,
)
from bot.payments import links
from bot.reminders import gate
from bot.templates import store as templates
from bot.templates import voice

log = logging.getLogger(__name__)
DEFERRED, QUEUED, SUPPRESSED = (
    statuses.Reminder.DEFERRED,
    statuses.Reminder.QUEUED,
    statuses.Reminder.SUPPRESSED,
)


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
        self.registers = voice.registers(session)  # {portfolio: register}, read once a run

    def register(self, r):
        return self.registers.get(r.account_segment or r.debtor_segment or voice.DEFAULT)

    def __call__(self, key, locale, variables, register=None, today=None):
        if (key, locale, register) not in self.cache:
            row, used = templates.lookup(self.session, key, locale, register)
            spec = self.session.get(TemplateKey, key)
            entry = (row.body, used, spec.variables if spec else {}, spec)
            self.cache[key, locale, register] = entry
        body, used, declared, spec = self.cache[key, locale, register]
        fmt = templates.format_locale(locale, used)
        return templates.render_body(body, declared, variables, fmt, today), spec, fmt

    def offer(self, offer, locale, variables, register=None):
        if not offer:
            return ""
        text, _spec, _fmt = self(f"reminder.offer.{offer}", locale, variables, register)
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
            Debtor.segment.label("debtor_segment"),
            Account.status.label("account_status"),
            Account.segment.label("account_segment"),
        )
        .join(Debtor, Debtor.id == ScheduledMessage.debtor_id)
        .join(Account, Account.id == ScheduledMessage.account_id)
        .where(ScheduledMessage.status.in_(statuses.Reminder.WAITING))
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
    # (Spelled out: an IN list cannot be a parameter of an executemany.)
    .where(or_(*(ScheduledMessage.status == status for status in statuses.Reminder.WAITING)))
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
    """Gate every due row; queue the allowed ones as outbound messages (and ask for their send
    jobs), defer or suppress the rest with the reason in the audit log. heartbeat is called
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
                changes.append(_change(r, DEFERRED, decision.reason, due_at=decision.next_at))
                audits.append(
                    _audit(
                        r.id,
                        "reminder.deferred",
                        {"reason": decision.reason, "until": decision.next_at.isoformat()},
                    )
                )
            else:
                report.count("suppressed", decision.reason)
                changes.append(_change(r, SUPPRESSED, decision.reason))
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
                changes.append(_change(r, SUPPRESSED, "render_error"))
                audits.append(_audit(r.id, "reminder.suppressed", {"reason": "render_error"}))
                continue
            values["conversation_id"] = conversation_id
            # One compiled statement for every row; only the parameters change.
            message_id = session.execute(_INSERT_MESSAGE, values).inserted_primary_key[0]
            report.count("queued", None)
            changes.append(
                _change(r, QUEUED, None, decision.channel, contacted_at=now, message_id=message_id)
            )
            queued.append(r.id)
        if changes:
            session.execute(_UPDATE, changes)
        if audits:
            session.execute(insert(AuditEvent), audits)
        if enqueue and queued:
            request_sends(session, queued)
        session.commit()
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
        ("installment", Installment, (statuses.Installment.DUE,), "installment_paid"),
        ("promise", Promise, (statuses.Promise.PENDING,), "promise_settled"),
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
                "state": statuses.Conversation.BOT,
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
    register = render.register(r)
    today = local_date(utcnow(), debtor_zone(r))  # a date this year is told without its year
    body, spec, fmt = render(r.template_key, locale, variables, register, today)
    body += render.offer(variables.get("offer"), locale, variables, register)
    values = {
        "direction": statuses.OUT,
        "template_key": r.template_key,
        "variables": variables,
        "body": body,
        "status": statuses.Outbound.PENDING,
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


def request_sends(session, ids):
    """Ask for send jobs for queued reminders, a few ids per job, once session commits."""
    size = current_app.config["REMINDER_SEND_BATCH"]
    for start in range(0, len(ids), size):
        outbox.later(session, "send_reminders", list(ids[start : start + size]))
