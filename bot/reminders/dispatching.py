"""Dispatching: every due reminder through the contact gate; the allowed ones rendered into
outbound messages and handed to send jobs, the others deferred (a later due_at) or suppressed,
with the reason in the row and the audit log."""

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace

from flask import current_app
from sqlalchemy import bindparam, insert, literal, or_, select, text, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from bot import channels, outbox, statuses
from bot.clock import debtor_zone, local_date, utcnow
from bot.contact import log as contact_log
from bot.contact.decision import DISCREET_KEYS
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
from bot.templates import optout, voice
from bot.templates import store as templates

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
        self.version = None  # the version of the last text rendered

    def register(self, r):
        return self.registers.get(r.account_segment or r.debtor_segment or voice.DEFAULT)

    def __call__(self, key, locale, variables, register=None, today=None):
        if (key, locale, register) not in self.cache:
            row, used = templates.lookup(self.session, key, locale, register)
            spec = self.session.get(TemplateKey, key)
            declared = spec.variables if spec else {}
            entry = (row.body, used, declared, spec, row.version)
            self.cache[key, locale, register] = entry
        body, used, declared, spec, self.version = self.cache[key, locale, register]
        fmt = templates.format_locale(locale, used)
        return templates.render_body(body, declared, variables, fmt, today), spec, fmt

    def offer(self, offer, locale, variables, register=None, today=None):
        if not offer:
            return ""
        version = self.version
        text, _spec, _fmt = self(f"reminder.offer.{offer}", locale, variables, register, today)
        self.version = version
        return text

    def opt_out_line(self, locale, register=None):
        version = self.version
        text, _spec, _fmt = self(optout.LINE_KEY, locale, {}, register)
        self.version = version
        return text


def compose(body, offer_text, line_text):
    """The reminder's text with the offer line, kept before the opt-out instructions (which
    stay last), and the instructions added when the text lacks them and line_text is given."""
    text = body
    if offer_text:
        head, newline, last = body.rpartition("\n")
        if newline and optout.has_opt_out_line(last) and not optout.has_opt_out_line(head):
            text = f"{head.rstrip()}\n\n{offer_text}\n\n{last}"
        else:
            text = f"{body}\n\n{offer_text}"
    if line_text and not optout.has_opt_out_line(text):
        text += "\n\n" + line_text
    return text


def _due_rows(now, status, after, batch, step_prefix=None):
    """The next batch of due rows in one waiting status, after the key (due_at, id) `after`.

    Keyset order is the index's own (ix_scheduled_due: status, due_at, id), so each batch
    reads only its own rows however many are due: ordered by id over both waiting statuses,
    every batch had to read and sort all the remaining due rows (a campaign of N rows cost
    N^2 / batch)."""
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
            ScheduledMessage.next_step,
            Debtor.phone,
            Debtor.country,
            Debtor.timezone,
            Debtor.region,
            Debtor.locale,
            Debtor.opted_out_whatsapp_at,
            Debtor.opted_out_sms_at,
            Debtor.opted_out_email_at,
            Debtor.email,
            Debtor.email_undeliverable_at,
            Debtor.preferred_channel,
            Debtor.opt_out_scope_asked_at,
            Debtor.opt_out_scope_answered_at,
            Debtor.wrong_number_at,
            Debtor.segment.label("debtor_segment"),
            Account.status.label("account_status"),
            Account.segment.label("account_segment"),
        )
        .join(Debtor, Debtor.id == ScheduledMessage.debtor_id)
        .join(Account, Account.id == ScheduledMessage.account_id)
        .where(ScheduledMessage.status == status)
        .where(ScheduledMessage.due_at <= now)
        .order_by(ScheduledMessage.due_at, ScheduledMessage.id)
        .limit(batch)
    )
    if after is not None:
        stmt = stmt.where(
            tuple_(ScheduledMessage.due_at, ScheduledMessage.id) > tuple_(*map(literal, after))
        )
    if step_prefix:
        stmt = stmt.where(ScheduledMessage.step.startswith(step_prefix))
    return stmt


def _batches(session, now, batch, step_prefix):
    """Every due row, a batch at a time: the planned ones, then the deferred ones."""
    for status in statuses.Reminder.WAITING:
        after = None
        while True:
            rows = session.execute(_due_rows(now, status, after, batch, step_prefix)).all()
            if not rows:
                break
            after = (rows[-1].due_at, rows[-1].id)
            yield rows


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
        expires_at=bindparam("b_expires_at"),
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
    jobs), defer or suppress the rest with the reason in the audit log and the contact log.
    heartbeat is called after each batch (it renews the dispatcher's lock, so no second
    dispatcher starts)."""
    now = now or utcnow()
    batch = batch or current_app.config["REMINDER_BATCH"]
    max_delay = timedelta(hours=current_app.config["REMINDER_MAX_DELAY_HOURS"])
    ctx = gate.Context.load(session, now)
    creditor = current_app.config.get("CREDITOR_NAME") or ""
    render = _Renderer(session)
    report = DispatchReport()
    for rows in _batches(session, now, batch, step_prefix):
        ctx.load_debtors(session, [r.debtor_id for r in rows], now)
        done = _steps_done(session, rows)
        changes, audits, sends, events = [], [], [], []
        for r in rows:
            decision = done.get(r.id) or gate.check(ctx, r, now)
            if decision.action == "send":
                ctx.contacted(r.debtor_id, now, decision.channel)
                sends.append((r, decision))
                continue
            if decision.action == "defer":
                report.count("deferred", decision.reason)
                expires = r.expires_at
                if decision.reason == "agent_held":
                    # Waiting for the agent does not eat into the time left to send it.
                    expires = max(expires, decision.next_at + max_delay)
                changes.append(
                    _change(r, DEFERRED, decision.reason, due_at=decision.next_at, expires=expires)
                )
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
            events.append(_event(r, now, decision, LOGGED[decision.action]))
        if dry_run:
            report.queued += len(sends)
            session.rollback()
            continue
        conversations = _conversations(session, [(d.channel, r) for r, d in sends])
        queued, rendered = [], []
        for r, decision in sends:
            address = _address(decision.channel, r)
            conversation_id, conv_locale = conversations[decision.channel, address]
            locale = conv_locale or r.locale
            try:
                values = _outbound(r, decision, locale, render, creditor, now)
            except templates.TemplateError as exc:
                log.error("reminder %s cannot be rendered: %s", r.id, exc)
                report.count("suppressed", "render_error")
                changes.append(_change(r, SUPPRESSED, "render_error"))
                audits.append(_audit(r.id, "reminder.suppressed", {"reason": "render_error"}))
                events.append(_event(r, now, decision, "suppressed", reason="render_error"))
                continue
            values["conversation_id"] = conversation_id
            rendered.append((r, decision, values, locale, render.version))
        message_ids = insert_messages(session, [values for _r, _d, values, *_ in rendered])
        for (r, decision, values, locale, version), message_id in zip(
            rendered, message_ids, strict=True
        ):
            report.count("queued", None)
            changes.append(
                _change(r, QUEUED, None, decision.channel, contacted_at=now, message_id=message_id)
            )
            events.append(
                _event(
                    r,
                    now,
                    decision,
                    "queued",
                    message_id=message_id,
                    template_key=values["template_key"],
                    template_version=version,
                    locale=locale,
                )
            )
            queued.append(r.id)
        if changes:
            session.execute(_UPDATE, changes)
        if audits:
            session.execute(insert(AuditEvent), audits)
        contact_log.write(session, events)
        if enqueue and queued:
            request_sends(session, queued)
        session.commit()
        if heartbeat is not None:
            heartbeat()
    return report


LOGGED = {"defer": "deferred", "suppress": "suppressed"}


def insert_messages(session, rows):
    """Insert outbound messages; their ids in the order of rows. On PostgreSQL a batch costs two
    round trips (its ids drawn from the table's sequence at once, then one batched insert)
    instead of one per message; SQLite runs in the process, where one insert each costs
    nothing more."""
    if not rows:
        return []
    if session.get_bind().dialect.name == "postgresql":
        ids = list(
            session.execute(
                text(
                    "SELECT nextval(pg_get_serial_sequence('messages', 'id')) "
                    "FROM generate_series(1, :n)"
                ),
                {"n": len(rows)},
            ).scalars()
        )
        session.execute(
            insert(Message), [dict(row, id=i) for row, i in zip(rows, ids, strict=True)]
        )
        return ids
    # One compiled statement for every row; only the parameters change.
    return [session.execute(_INSERT_MESSAGE, row).inserted_primary_key[0] for row in rows]


def _event(r, now, decision, action, **values):
    return contact_log.event(
        now,
        r.debtor_id,
        "reminder",
        action,
        decision,
        account_id=r.account_id,
        scheduled_id=r.id,
        **values,
    )


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
        ("installment", Installment, statuses.Installment.UNPAID, "installment_paid"),
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


def _change(
    r, status, reason, channel=None, due_at=None, contacted_at=None, message_id=None, expires=None
):
    return {
        "b_id": r.id,
        "b_status": status,
        "b_reason": reason,
        "b_channel": channel,
        "b_due_at": due_at or r.due_at,
        "b_expires_at": expires or r.expires_at,
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


def _address(channel, r):
    """The debtor's address on channel: the number, or the e-mail address."""
    return r.email if channel == channels.EMAIL else r.phone


def _conversations(session, wanted):
    """(id, locale) of the conversations for [(channel, row)], created where missing.

    Looked up by channel, then address: the unique index is (channel, address), so each
    lookup is an index search (by address alone it scanned the whole table, twice a batch)."""
    if not wanted:
        return {}
    wanted = [(channel, r, _address(channel, r)) for channel, r in wanted]
    debtor_of = {(channel, address): r.debtor_id for channel, r, address in wanted}

    def known(keys):
        by_channel = {}
        for channel, address in keys:
            by_channel.setdefault(channel, set()).add(address)
        found = {}
        for channel, addresses in sorted(by_channel.items()):
            for c in session.execute(
                select(Conversation.id, Conversation.address, Conversation.locale).where(
                    Conversation.channel == channel, Conversation.address.in_(addresses)
                )
            ).all():
                found[channel, c.address] = (c.id, c.locale)
        return found

    found = known(debtor_of)
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
        found.update(known(missing))
    return found


def _outbound(r, decision, locale, render, creditor="", now=None):
    """The outbound message's values for an allowed reminder, in the debtor's locale and the
    portfolio's register: the discreet variant (no amount, reference or link) until the right
    party is confirmed, and opt-out instructions where the pack asks for them."""
    key = decision.template_key or r.template_key
    register = render.register(r)
    # A date in the debtor's current year is told without its year.
    today = local_date(now or utcnow(), debtor_zone(r))
    if key in DISCREET_KEYS:
        variables = {"first_name": (r.variables or {}).get("first_name", "")}
        if "named" in key:
            variables["creditor"] = creditor
        body, spec, fmt = render(key, locale, variables, register, today)
        offer = ""
    else:
        variables = dict(r.variables or {})
        account = SimpleNamespace(id=r.account_id, debtor_id=r.debtor_id)
        variables["url"] = links.payment_url(account)
        body, spec, fmt = render(key, locale, variables, register, today)
        offer = render.offer(variables.get("offer"), locale, variables, register, today)
    line = render.opt_out_line(locale, register) if decision.opt_out_line else ""
    values = {
        "direction": statuses.OUT,
        "template_key": key,
        "variables": variables,
        "body": compose(body, offer, line),
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
