"""A generated 90-day history for the demo, made the way production makes one: debts imported,
reminders planned, gated, rendered and sent by the reminder services, debtors answering through
the inbound service, verifying, promising, paying (reconciliation and its hooks), opting out
and asking for a person (the agents' services), while the clock (bot.clock, moved with
time-machine) walks through the days. Nothing writes an aggregate row: the daily job computes
the dashboard from this history at the end. A throwaway redis-server takes the jobs the
services ask for, so nothing reaches the real queues."""

import json
import random
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from flask import current_app
from redis import Redis
from sqlalchemy import create_engine, event, func, select
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import StaticPool

from bot import clock, statuses, users
from bot.analytics import rollup
from bot.contact import preferences
from bot.conversations import escalation, handover, verification
from bot.conversations.inbound import store_inbound
from bot.debts import claims, imports, plans, policies, promises
from bot.experiments import variants
from bot.models import Account, Debtor, Message, ScheduledMessage, TemplateKey
from bot.outbound.deliver import deliver
from bot.outbound.status import apply_status
from bot.payments.reconcile import apply_payment
from bot.reminders import dispatching, planning, sending
from bot.templates import approved

PREFIX = "HIST-"
EXPERIMENT = "tono-empatico"
AGENT_EMAIL = "demo.agent@example.com"
CO_MOBILE = ("00", "01", "02", "10", "11", "12", "15", "20")
US_AREAS = (202, 212, 305, 312, 415, 617, 702, 713, 786, 917)


def _us_phone(n):
    return f"+1{US_AREAS[n % 10]}55501{n // 10 % 100:02d}"


COUNTRIES = (
    # country, locale, currency, share, amount range (major units), phone maker
    ("CO", "es-CO", "COP", 40, (50_000, 2_000_000), lambda n: f"3{CO_MOBILE[n % 8]}{n:07d}"),
    ("MX", "es-MX", "MXN", 25, (500, 20_000), lambda n: f"55{n:08d}"),
    ("CL", "es-CL", "CLP", 12, (20_000, 800_000), lambda n: f"+5698{n:07d}"),
    ("PE", "es-PE", "PEN", 13, (100, 3_000), lambda n: f"9{n:08d}"),
    ("US", "en-US", "USD", 10, (50, 1_500), _us_phone),
)  # fmt: skip
FIRST = ("Ana", "Luis", "María", "Jorge", "Sofía", "Carlos", "Lucía", "Andrés", "Paula", "Diego",
         "Valentina", "Mateo", "Camila", "Juan", "Daniela", "Emily", "James", "Laura")  # fmt: skip
LAST = ("García", "Rodríguez", "López", "Martínez", "Hernández", "Soto", "Pérez", "Gómez",
        "Díaz", "Torres", "Ramírez", "Flores", "Smith", "Johnson")  # fmt: skip
# What a debtor does after a reminder (the challenger's warmer text does a little better).
REPLY, REPLY_LIFT = 0.22, 0.08
PAY_UNPROMPTED, PAY_LIFT = 0.06, 0.03
VERIFY, PROMISE, KEEP, PLAN, OPT_OUT, ESCALATE, DISPUTE, CLAIM = (
    0.8, 0.35, 0.6, 0.04, 0.015, 0.1, 0.006, 0.01)  # fmt: skip
EMPATHETIC = {
    "es": "Hola {first_name}, sabemos que a veces el mes se complica. Tu pago de {amount} "
    "(ref. {reference}) venció el {due_date}; si quieres, lo resolvemos juntos aquí: {url}",
    "en": "Hi {first_name}, we know some months are harder. Your payment of {amount} "
    "(ref. {reference}) was due on {due_date}; if you like, we can sort it out together: {url}"
    "\n\nReply STOP to stop these messages.",  # Regulation F, like the seeds
}


@dataclass
class Report:
    debtors: int = 0
    contacts: int = 0
    replies: int = 0
    payments: int = 0
    seconds: float = 0.0
    generated: float = 0.0
    days: int = 0  # aggregate rows written

    def summary(self):
        return (
            f"demo history: {self.debtors} debtors, {self.contacts} reminders sent, "
            f"{self.replies} replies, {self.payments} payments over 90 days, {self.days} "
            f"aggregate row(s); {self.seconds:.0f} s ({self.generated:.0f} s generating)"
        )


class Carrier:
    """Stands in for Twilio's Messages API: accepts every message (the sandbox does the same
    for the live demo); statuses then come back through the status service."""

    def __init__(self):
        self.messages = self
        self.count = 0

    def create(self, **_params):
        self.count += 1
        return SimpleNamespace(sid=f"SMdemo{self.count:026d}", status="queued")

    def list(self, **_params):
        return []


class Unlimited:
    def take(self):
        return True


def already_loaded(session):
    found = session.execute(
        select(func.count()).select_from(Account).where(Account.external_id.like(PREFIX + "%"))
    ).scalar()
    return bool(found)


def debtors_csv(rng, count, first_day, days):
    """The portfolio as the import reads it: a few thousand debts falling due over the period."""
    lines = [
        "external_id,full_name,phone,country,locale,currency,amount_due,due_date,id_last4,segment"
    ]
    weights = [c[3] for c in COUNTRIES]
    id_endings = {}
    for n in range(count):
        country, locale, currency, _w, (low, high), phone = rng.choices(COUNTRIES, weights)[0]
        due = first_day + timedelta(days=rng.randint(-25, days + 10))
        amount = rng.randint(low, high)
        last4 = f"{rng.randint(0, 9999):04d}"
        portfolio = rng.choice(("retail", "retail", "telco", ""))
        external_id = f"{PREFIX}{n + 1:05d}"
        id_endings[external_id] = last4
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        lines.append(
            f"{external_id},{name},{phone(n + 1000)},{country},{locale},{currency},{amount},"
            f"{due.isoformat()},{last4},{portfolio}"
        )
    return "\n".join(lines).encode(), id_endings  # fmt: skip


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ThrowawayRedis:
    """A private redis-server for the generation: the jobs the services ask for land there."""

    def __enter__(self):
        server = shutil.which("redis-server")
        if server is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        port = _free_port()
        self.proc = subprocess.Popen(
            [server, "--port", str(port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        self.client = Redis.from_url(f"redis://127.0.0.1:{port}/0")
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client.ping()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.before = current_app.extensions.get("redis")
        current_app.extensions["redis"] = self.client
        return self

    def __exit__(self, *_exc):
        current_app.extensions.pop("redis", None)
        if self.before is not None:
            current_app.extensions["redis"] = self.before
        self.proc.terminate()
        self.proc.wait(timeout=10)


class Simulation:
    """The days of the history, one after the other, on a moving clock."""

    def __init__(self, session, traveller, rng, id_endings, first_day, report):
        self.s, self.traveller, self.rng = session, traveller, rng
        self.id_endings, self.first_day, self.report = id_endings, first_day, report
        self.carrier = Carrier()
        self.later = {}  # day -> [(account id, amount)] payments promised or decided
        self.sids = 0
        self.challenger = None
        self.agent = None

    def at(self, moment):
        self.traveller.move_to(moment.replace(tzinfo=timezone.utc), tick=False)
        return moment

    # -- set-up ------------------------------------------------------------------------------

    def set_up(self):
        s = self.s
        # The demo's agent: nobody knows its password (a random one), it only handles history.
        self.agent = (
            users.find(s, AGENT_EMAIL)
            or users.create_user(s, AGENT_EMAIL, secrets.token_urlsafe(24), "agent", actor="demo")[
                0
            ]
        )
        # WhatsApp reminders outside the 24-hour window go as approved templates.
        for i, key in enumerate(
            k
            for k in s.execute(select(TemplateKey.key)).scalars()
            if approved.needs_approved_template(k)
        ):
            spec = s.get(TemplateKey, key)
            if spec.content_sid is None and key.startswith("reminder."):
                mapping = {str(n + 1): name for n, name in enumerate(sorted(spec.variables or {}))}
                approved.link_content_sid(s, key, f"HX{i + 1:032x}", json.dumps(mapping), "demo")
        key = variants.add_text_variant(
            s, "reminder.overdue.friendly", "empatico", EMPATHETIC, None
        )
        spec = s.get(TemplateKey, key)
        base = s.get(TemplateKey, "reminder.overdue.friendly")
        spec.content_sid, spec.content_variables = "HX" + "e" * 32, base.content_variables
        experiment = variants.create(
            s,
            EXPERIMENT,
            "template",
            [
                {"name": "champion", "share": 50, "is_control": True},
                {"name": "empatico", "share": 50, "template_key": key},
            ],
            None,
            template_key="reminder.overdue.friendly",
            description="A warmer overdue reminder against the current one (demo).",
        )
        s.commit()
        self.challenger = experiment.variants[1].id

    # -- one day -----------------------------------------------------------------------------

    def day(self, day):
        s, rng = self.s, self.rng
        now = self.at(datetime.combine(day, datetime.min.time()) + timedelta(hours=15))
        planning.plan(s, now=now)
        dispatching.dispatch(s, now=now, enqueue=False)
        queued = (
            s.execute(
                select(ScheduledMessage.id).where(
                    ScheduledMessage.status == statuses.Reminder.QUEUED
                )
            )
            .scalars()
            .all()
        )
        sending.send(
            s, list(queued), self.carrier, lambda _channel: Unlimited(), threads=1, now=now
        )
        sent = (
            s.execute(
                select(ScheduledMessage).where(
                    ScheduledMessage.id.in_(queued),
                    ScheduledMessage.status == statuses.Reminder.SENT,
                )
            )
            .scalars()
            .all()
        )
        self.report.contacts += len(sent)
        self._statuses([sm.message for sm in sent])
        minute = 0
        for sm in sent:
            minute += rng.randint(1, 4)
            self._react(sm, now + timedelta(minutes=minute))
        for account_id, amount in self.later.pop(day, []):
            minute += rng.randint(1, 6)
            self.at(now + timedelta(minutes=minute))
            self._pay(s.get(Account, account_id), amount)
        self.at(now + timedelta(hours=8))
        self._deliver_pending()
        promises.break_overdue_promises(s, today=day - timedelta(days=1))
        s.commit()

    def _statuses(self, messages):
        for message in messages:
            if not message.provider_sid:
                continue
            roll = self.rng.random()
            status = "undelivered" if roll < 0.03 else "delivered"
            if status == "delivered" and message.conversation.channel == "whatsapp" and roll > 0.4:
                status = "read"
            for step in ("sent", "delivered", status) if status == "read" else ("sent", status):
                apply_status(
                    self.s, message.provider_sid, step, "30003" if step == "undelivered" else None
                )

    def _react(self, sm, moment):
        """What a debtor does after a reminder (chances from the constants above)."""
        s, rng = self.s, self.rng
        account, debtor = s.get(Account, sm.account_id), s.get(Debtor, sm.debtor_id)
        if account.external_id not in self.id_endings:
            return  # the simulator's own demo debtors are left to the person trying the demo
        lift = sm.variant_id == self.challenger
        conversation = sm.message.conversation
        if rng.random() < OPT_OUT:
            self.at(moment)
            preferences.record_opt_out(s, debtor, conversation.channel, f"debtor:{debtor.id}")
            s.commit()
            return
        if rng.random() < PAY_UNPROMPTED + (PAY_LIFT if lift else 0):
            due = sm.due_at.date() + timedelta(days=rng.randint(0, 3))
            self.later.setdefault(due, []).append((account.id, self._amount(account)))
        if rng.random() >= REPLY + (REPLY_LIFT if lift else 0):
            return
        self.report.replies += 1
        self._inbound(conversation, moment, rng.choice(("hola", "buenas", "ok", "hi")))
        if rng.random() < ESCALATE:
            self._agent(conversation, moment)
            return
        if rng.random() >= VERIFY:
            return
        self._inbound(
            conversation, moment + timedelta(minutes=1), self.id_endings[account.external_id]
        )
        verification.attempt(s, conversation, self.id_endings[account.external_id])
        s.commit()
        self._outcome(conversation, account, moment + timedelta(minutes=2), lift)

    def _outcome(self, conversation, account, moment, lift):
        s, rng = self.s, self.rng
        self.at(moment)
        roll = rng.random()
        today = moment.date()
        if roll < DISPUTE:
            claims.open_dispute(
                s, conversation, "esa deuda no es mía", f"debtor:{account.debtor_id}"
            )
        elif roll < DISPUTE + CLAIM:
            claims.claim_payment(
                s, conversation, today, None, "ya pagué", f"debtor:{account.debtor_id}"
            )
        elif roll < DISPUTE + CLAIM + PLAN and account.status == statuses.Account.OPEN:
            policy = policies.policy_for(s, account)
            rows = plans.schedule(account.balance_minor, 3, policy, today + timedelta(days=3))
            plans.create_plan(s, account, rows, actor=f"debtor:{account.debtor_id}")
            for due, amount in rows:
                if rng.random() < KEEP + 0.2:
                    self.later.setdefault(due, []).append((account.id, amount))
        elif roll < PROMISE:
            promised = today + timedelta(days=rng.randint(1, 10))
            outcome, _row = promises.promise(
                s, conversation, promised, f"debtor:{account.debtor_id}", today, account=account
            )
            if outcome == "recorded" and rng.random() < KEEP + (0.1 if lift else 0):
                self.later.setdefault(promised, []).append((account.id, account.balance_minor))
        s.commit()

    def _amount(self, account):
        """Most pay everything; some pay a part."""
        if self.rng.random() < 0.3:
            return max(account.balance_minor // self.rng.choice((2, 3, 4)), 1)
        return account.balance_minor

    def _pay(self, account, amount):
        if account is None or account.balance_minor <= 0 or amount <= 0:
            return
        if account.status not in statuses.Account.COLLECTIBLE:
            return
        self.sids += 1
        apply_payment(
            self.s,
            account,
            min(amount, account.balance_minor),
            provider="sandbox",
            provider_ref=f"demo-{self.sids}",
            actor="provider:sandbox",
        )
        self.report.payments += 1
        self.s.commit()

    def _inbound(self, conversation, moment, body):
        self.at(moment)
        self.sids += 1
        address = ("whatsapp:" if conversation.channel == "whatsapp" else "") + conversation.address
        message, _created = store_inbound(
            self.s,
            {"MessageSid": f"SMin{self.sids:030d}", "From": address, "Body": body},
            current_app.config["MAX_INBOUND_BODY"],
        )
        message.status, message.processed_at = (
            statuses.Inbound.PROCESSED,
            moment,
        )  # the worker's part
        self.s.commit()

    def _agent(self, conversation, moment):
        """A person is asked for; the demo agent claims, answers and hands back."""
        s = self.s
        escalation.mark_for_agent(s, conversation, "request_agent")
        s.commit()
        self.at(moment + timedelta(minutes=self.rng.randint(2, 30)))
        if handover.claim(s, conversation.id, self.agent):
            s.commit()
            self.at(moment + timedelta(minutes=self.rng.randint(32, 70)))
            handover.agent_reply(
                s, conversation, self.agent, "Hola, soy de cobranzas. ¿Cómo te ayudo?"
            )
            s.commit()
            self.at(moment + timedelta(minutes=self.rng.randint(72, 120)))
            handover.hand_back(s, conversation, self.agent)
            s.commit()

    def _deliver_pending(self):
        """Thank-yous and agents' messages the services queued: sent as the worker would."""
        pending = (
            self.s.execute(
                select(Message).where(
                    Message.direction == statuses.OUT, Message.status == statuses.Outbound.PENDING
                )
            )
            .scalars()
            .all()
        )
        for message in pending:
            deliver(self.s, message, self.carrier)
        self._statuses(pending)


def _engine(url):
    """One connection for the whole generation (SQLite: no sync to disk per commit; the file
    is synced when it closes): the history's tens of thousands of commits then take seconds."""
    if not url.startswith("sqlite"):
        return create_engine(url, future=True, poolclass=StaticPool)
    engine = create_engine(
        url, future=True, poolclass=StaticPool, connect_args={"check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=OFF")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    return engine


def load(debtors=2000, days=90, seed=15, end=None, log=print):
    """Generate the history once (a second call finds it and does nothing); returns a Report."""
    import time_machine  # a development dependency: the demo runs from a `make install` checkout

    engine = _engine(current_app.config["DATABASE_URL"])
    session = sessionmaker(engine, future=True, expire_on_commit=False)()
    try:
        return _load(session, time_machine, debtors, days, seed, end, log)
    finally:
        session.close()
        engine.dispose()


def _load(session, time_machine, debtors, days, seed, end, log):
    started = time.monotonic()
    report = Report()
    if already_loaded(session):
        log("demo history: already loaded")
        return report
    end = end or clock.utcnow()
    first_day = (end - timedelta(days=days)).date()
    rng = random.Random(seed)
    data, id_endings = debtors_csv(rng, debtors, first_day, days)
    with (
        ThrowawayRedis(),
        time_machine.travel(
            datetime.combine(first_day, datetime.min.time(), tzinfo=timezone.utc)
            + timedelta(hours=12),
            tick=False,
        ) as traveller,
    ):
        result = imports.import_csv(session, data)
        report.debtors = result.created
        for line, reason in result.errors[:5]:
            log(f"demo history: row {line} not loaded: {reason}")
        sim = Simulation(session, traveller, rng, id_endings, first_day, report)
        sim.set_up()
        for offset in range(days):
            sim.day(first_day + timedelta(days=offset))
            if offset % 30 == 29:
                log(f"demo history: day {offset + 1} of {days}")
        session.commit()
    report.generated = time.monotonic() - started
    written = rollup.rollup_range(session, first_day - timedelta(days=1), end.date(), now=end)
    report.days = sum(written.values())
    report.seconds = time.monotonic() - started
    log(report.summary())
    return report
