"""A month of reminders (December 2026) for 300 generated debtors in CO, MX, CL, PE, US and AR,
driven through the bot's own planning, dispatch and send path with the clock moved by
time-machine, while the debtors write in, verify or fail to, stop messages (one channel or
all), dispute, say it is a wrong number, pay, promise, authorise a channel in the chat, and
agents take conversations over and hand them back.

Every message Twilio receives is judged by tests/simulation/checker.py, which reads the law
from the packs' files and knows where each debtor really is. The month must end with no
violation of any pack and no reminder lost to bookkeeping (expired for want of a slot,
dropped while an agent held the conversation, used up by a message that never went)."""

import threading
from collections import Counter
from datetime import timedelta, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from bot import users
from bot.clock import today_for, utcnow
from bot.conversations import contact, handover, verification
from bot.conversations.inbound import get_or_create_conversation
from bot.debts import claims, promises
from bot.debts.imports import import_csv
from bot.models import Account, Debtor, Message, ScheduledMessage
from bot.outbound.throttle import TokenBucket
from bot.payments import reconcile
from bot.redis import redis_conn
from bot.reminders import sending
from bot.tasks import periodic
from bot.templates import approved
from tests.simulation import checker, world

TICK = timedelta(minutes=30)
SID = "HX" + "5" * 32
# Keys with an approved WhatsApp template (so WhatsApp is used outside the 24-hour window).
APPROVED = (
    "reminder.upcoming.friendly",
    "reminder.due.friendly",
    "reminder.overdue.friendly",
    "reminder.discreet",
    "reminder.discreet.locked",
)
# Why a reminder may rightly end unsent: the debtor's own choices and situation, a payment,
# a later step of the same cadence that went instead, no lawful channel at all.
LEGITIMATE = (
    "opted_out",
    "no_consent",
    "wrong_number",
    "disputed",
    "claim_review",
    "account_closed",
    "account_paid",
    "installment_paid",
    "promise_settled",
    "superseded:",
    "no_approved_template",
    "outside_window",
)


class Twilio:
    """Records what reaches 'Twilio', at the simulated moment."""

    def __init__(self):
        self.created = []
        self.lock = threading.Lock()
        self.messages = self

    def create(self, **params):
        with self.lock:
            sid = f"SM{len(self.created) + 1:032d}"
            self.created.append(dict(params, sid=sid, at=utcnow()))
            return SimpleNamespace(sid=sid, status="queued")


@pytest.fixture
def month(app, db, time_machine):
    app.config.update(REMINDER_PLAN_INTERVAL=3 * 3600)
    people = world.debtors()
    time_machine.move_to(world.START.replace(tzinfo=timezone.utc), tick=False)
    report = import_csv(db, world.csv_text(people))
    assert report.errors == [], report.errors[:3]
    for key in APPROVED:
        approved.link_content_sid(db, key, SID, '{"1": "first_name"}', "test")
    users.create_user(db, "agent@example.com", "correct horse battery", "agent")
    db.commit()
    return people


def _conversation(db, person, channel="whatsapp"):
    conversation = get_or_create_conversation(db, channel, person.phone)
    if conversation.debtor_id is None:
        conversation.debtor = db.execute(
            select(Debtor).where(Debtor.phone == person.phone)
        ).scalar_one()
    return conversation


def _inbound(db, conversation, text):
    conversation.last_inbound_at = utcnow()
    db.add(Message(conversation_id=conversation.id, direction="in", body=text, status="processed"))
    db.flush()


def apply(db, event, person, agent):
    """Do what the debtor (or an agent) did, through the bot's own services."""
    kind, data = event.kind, event.data
    channel = data.get("channel", "whatsapp") if kind in ("opt_out", "consent_chat") else "whatsapp"
    conversation = _conversation(db, person, channel)
    if kind == "write_in":
        _inbound(db, conversation, "hola")
        if data["verify"]:
            verification.attempt(db, conversation, person.id_last4)
    elif kind == "fail_verify":
        _inbound(db, conversation, "0000")
        for _ in range(verification.MAX_ATTEMPTS):
            verification.attempt(db, conversation, "0000")
    elif kind == "opt_out":
        _inbound(db, conversation, "no me escriban mas por aca")
        contact.opt_out(db, conversation, "debtor")
    elif kind == "opt_out_all":
        _inbound(db, conversation, "no me contacten por ningun medio")
        contact.opt_out_all(db, conversation, "debtor")
    elif kind == "dispute":
        _inbound(db, conversation, "esa deuda no es mia")
        claims.open_dispute(db, conversation, "esa deuda no es mia", "debtor")
    elif kind == "wrong_number":
        _inbound(db, conversation, "numero equivocado")
        contact.mark_wrong_number(db, conversation, "debtor")
    elif kind == "pay":
        account = db.execute(
            select(Account).where(Account.external_id == person.external_id)
        ).scalar_one()
        if account.balance_minor > 0 and account.status in ("open", "plan"):
            amount = (
                account.balance_minor if data["share"] == 1.0 else account.balance_minor * 2 // 5
            )
            payment = reconcile.apply_payment(
                db, account, max(amount, 1), "sim", f"P{event.at}{person.phone}"
            )
            reconcile.on_payment_applied(db, payment)
    elif kind == "agent_claim":
        handover.claim(db, conversation.id, agent)
    elif kind == "agent_release":
        db.refresh(conversation)
        if conversation.agent_id == agent.id:
            handover.close(db, conversation, agent, "resolved")
    elif kind == "promise":
        debtor = conversation.debtor
        today = today_for(debtor)
        promises.promise(db, conversation, today + timedelta(days=data["days"]), "debtor", today)
    elif kind == "consent_chat":
        _inbound(db, conversation, "si, autorizo que me escriban por aqui")
        contact.give_consent(db, conversation)
    db.commit()


def run_month(db, people, time_machine):
    twilio = Twilio()
    bucket = TokenBucket(redis_conn(), "simulation", 100000, burst=100000)
    agent = users.find(db, "agent@example.com")
    pending = world.events(people)
    timeline = {}
    moment = world.START
    while moment < world.END:
        while pending and pending[0].at <= moment:
            event = pending.pop(0)
            time_machine.move_to(event.at.replace(tzinfo=timezone.utc), tick=False)
            apply(db, event, people[event.debtor], agent)
            timeline.setdefault(event.debtor, []).append((event.at, event.kind, event.data))
        time_machine.move_to(moment.replace(tzinfo=timezone.utc), tick=False)
        periodic.reminders_tick(now=moment)
        queued = (
            db.execute(select(ScheduledMessage.id).where(ScheduledMessage.status == "queued"))
            .scalars()
            .all()
        )
        db.commit()
        if queued:
            sending.send(db, list(queued), twilio, lambda channel: bucket, now=moment)
        moment += TICK
    return twilio, timeline


def test_a_month_of_reminders_breaks_no_pack_and_loses_no_reminder(app, db, month, time_machine):
    people = month
    twilio, timeline = run_month(db, people, time_machine)
    index_of = {p.phone: i for i, p in enumerate(people)}
    bodies = {
        m.provider_sid: m
        for m in db.execute(select(Message).where(Message.provider_sid.isnot(None))).scalars()
    }
    messages = []
    for sent in twilio.created:
        to = sent["to"]
        channel = "whatsapp" if to.startswith("whatsapp:") else "sms"
        stored = bodies[sent["sid"]]
        messages.append(
            (
                index_of[to.split(":")[-1]],
                sent["at"],
                channel,
                stored.body,
                stored.content_sid is None,
            )
        )
    violations = checker.Checker(people, timeline).check(sorted(messages, key=lambda m: m[1]))
    by_rule = Counter(v[0] for v in violations)
    assert violations == [], f"{by_rule}\n{checker.first_of(violations)}"

    # Nothing lost to bookkeeping: every planned reminder was sent, or stopped for a reason
    # that belongs to the debtor's situation, or is still waiting for its slot.
    rows = db.execute(select(ScheduledMessage)).scalars().all()
    outcome = Counter()
    lost = []
    for row in rows:
        if row.status == "sent":
            outcome["sent"] += 1
        elif row.status in ("planned", "deferred", "queued"):
            outcome["waiting"] += 1
            if row.expires_at < world.END:
                lost.append((row.step, row.status, row.reason))
        elif row.status == "suppressed" and (row.reason or "").startswith(LEGITIMATE):
            outcome[(row.reason or "").split(":")[0]] += 1
        else:
            lost.append((row.step, row.status, row.reason))
    # A step that gave way to the next one: that one exists (or falls after the month).
    steps = {(row.account_id, row.step) for row in rows}
    for row in rows:
        if (row.reason or "").startswith("superseded:"):
            successor = row.reason.split(":", 1)[1]
            fires = row.ref_date + timedelta(days=int(successor.rsplit(":", 1)[1]))
            if (row.account_id, successor) not in steps and fires < world.END.date():
                lost.append((row.step, row.status, row.reason))
    assert lost == [], f"{len(lost)} lost: {Counter(r[2] for r in lost)}"

    # The month exercised what it claims to.
    by_country = Counter(people[m[0]].country for m in messages)
    assert set(by_country) == {"CO", "MX", "CL", "PE", "US", "AR"}, by_country
    keys = Counter(bodies[s["sid"]].template_key for s in twilio.created)
    assert (
        keys["reminder.discreet"] > 0
        and sum(n for k, n in keys.items() if not k.startswith("reminder.discreet")) > 0
    )
    assert outcome["superseded"] > 0 and outcome["sent"] > 300, outcome
    assert Counter(m[2] for m in messages)["whatsapp"] > 0
    released = db.execute(
        select(ScheduledMessage).where(ScheduledMessage.status == "sent")
    ).scalars()
    assert any(r.reason == "agent_held" or r.attempts for r in released)
    print(f"\n{len(messages)} messages sent; {dict(by_country)}; outcomes {dict(outcome)}")
