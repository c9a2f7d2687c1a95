"""The daily accrual over every account: idempotent, in batches, in each debtor's own today.

Run by the workers' tick (bot.tasks.periodic) and `flask --app bot ledger accrue`. An account
accrued through its debtor's today is skipped, and every entry carries a key unique per account
(interest:<day>, late_fee:<due date>, late_fee:installment:<id>), so running twice, or after a
payment already accrued an account, adds nothing. It writes with a few statements per batch
(no ORM objects), which is what lets a million accounts accrue in minutes.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from bot import clock, statuses
from bot.ledger import accrual
from bot.ledger.policy import merge
from bot.models import (
    Account,
    Debtor,
    Installment,
    LedgerBalance,
    LedgerEntry,
    PaymentPlan,
    PaymentPolicy,
)

log = logging.getLogger(__name__)
ACTOR = "system:accrual"


@dataclass
class Report:
    opened: int = 0
    seen: int = 0
    accrued: int = 0
    interest_minor: int = 0
    fees: int = 0
    fee_minor: int = 0
    late_installments: int = 0
    entries: int = 0
    batches: int = 0
    currencies: set = field(default_factory=set)

    def summary(self):
        return (
            f"{self.seen} account(s) checked, {self.accrued} accrued, {self.entries} entries "
            f"({self.fees} late fee(s)), {self.late_installments} installment(s) late, "
            f"{self.opened} ledger(s) opened"
        )


def open_missing(session, today, account_ids=None):
    """Open a ledger for every account without one (created before the ledger, or by a path
    that did not open it): its balance becomes the opening charge."""
    stmt = select(Account.id, Account.balance_minor, Account.currency).where(
        Account.id.not_in(select(LedgerBalance.account_id))
    )
    if account_ids is not None:
        stmt = stmt.where(Account.id.in_(account_ids))
    rows = session.execute(stmt).all()
    if not rows:
        return 0
    now = clock.utcnow()
    session.execute(
        insert(LedgerBalance.__table__),
        [
            {
                "account_id": r.id,
                "principal_minor": r.balance_minor,
                "interest_minor": 0,
                "fee_minor": 0,
                "credit_minor": 0,
                "interest_charged_minor": 0,
                "carry_nano": 0,
                "opened_on": today,
                "accrued_through": today,
            }
            for r in rows
        ],
    )
    charges = [
        _entry(
            r.id,
            r.currency,
            statuses.Entry.CHARGE,
            statuses.Bucket.PRINCIPAL,
            r.balance_minor,
            today,
            "opening",
            None,
            now,
            "opening balance",
            "system",
        )
        for r in rows
        if r.balance_minor
    ]
    if charges:
        session.execute(insert(LedgerEntry.__table__), charges)
    return len(rows)


def _entry(account_id, currency, kind, bucket, amount, day, key, policy_id, now, memo, actor=ACTOR):
    return {
        "account_id": account_id,
        "kind": kind,
        "bucket": bucket,
        "amount_minor": amount,
        "currency": currency,
        "effective_date": day,
        "key": key,
        "payment_id": None,
        "reverses_id": None,
        "policy_id": policy_id,
        "actor": actor,
        "memo": memo,
        "created_at": now,
    }


class _Timelines:
    """Policy timelines per account segment, read once per run."""

    def __init__(self, session):
        self.by_portfolio = {}
        for policy in session.execute(
            select(PaymentPolicy).order_by(PaymentPolicy.portfolio, PaymentPolicy.effective_from)
        ).scalars():
            self.by_portfolio.setdefault(policy.portfolio, []).append(policy)
        self.cache = {}

    def __call__(self, segment):
        if segment not in self.cache:
            own = self.by_portfolio.get(segment, []) if segment else []
            self.cache[segment] = merge(own, self.by_portfolio.get("default", []))
        return self.cache[segment]


class _Todays:
    """Each debtor's today at one instant, computed once per zone."""

    def __init__(self, now):
        self.now = now
        self.by_zone = {}

    def __call__(self, timezone, phone):
        zone = timezone or clock.debtor_zone(SimpleNamespace(timezone=None, phone=phone))
        if zone not in self.by_zone:
            self.by_zone[zone] = clock.local_date(self.now, zone)
        return self.by_zone[zone]


def run(session, now=None, account_ids=None, today=None, batch_size=2000, commit=True):
    """Accrue every owing account (or those of account_ids) through its debtor's today (or
    the today given). Commits per batch unless commit is False (a caller's transaction)."""
    now = now or clock.utcnow()
    session.flush()
    report = Report()
    report.opened = open_missing(session, today or now.date(), account_ids)
    if commit:
        session.commit()
    timelines, todays = _Timelines(session), _Todays(now)
    horizon = today or _horizon(session, todays)
    last_id = 0
    while True:
        stmt = (
            select(
                Account.id,
                Account.due_date,
                Account.status,
                Account.segment,
                Account.currency,
                Account.amount_due_minor,
                LedgerBalance.principal_minor,
                LedgerBalance.interest_charged_minor,
                LedgerBalance.accrued_through,
                LedgerBalance.carry_nano,
                LedgerBalance.late_fee_for,
                LedgerBalance.opened_on,
                Debtor.timezone,
                Debtor.phone,
            )
            .join(LedgerBalance, LedgerBalance.account_id == Account.id)
            .join(Debtor, Debtor.id == Account.debtor_id)
            .where(Account.id > last_id, Account.status.in_(statuses.Account.OWING))
            .where(LedgerBalance.accrued_through < horizon)
            .order_by(Account.id)
            .limit(batch_size)
        )
        if account_ids is not None:
            stmt = stmt.where(Account.id.in_(account_ids))
        rows = session.execute(stmt).all()
        if not rows:
            break
        last_id = rows[-1].id
        for attempt in range(3):
            try:
                _batch(session, rows, timelines, todays, today, now, report)
                if commit:
                    session.commit()
                break
            except IntegrityError:
                # Another process accrued some of these accounts meanwhile: read them again.
                session.rollback()
                if attempt == 2 or not commit:
                    raise
                rows = session.execute(stmt.where(Account.id <= last_id)).all()
        report.batches += 1
    if report.accrued:
        log.info("accrual: %s", report.summary())
    return report


def _horizon(session, todays):
    """The latest today of any debtor: accounts accrued through it have nothing to do, so
    hourly runs pass over them in the database, not in Python."""
    zones = session.execute(select(Debtor.timezone).distinct()).scalars().all()
    if None in zones:
        # Debtors whose number spans zones: a zone a day ahead of UTC is the safe bound.
        return todays.now.date() + timedelta(days=1)
    if not zones:
        return todays.now.date()
    return max(todays(zone, None) for zone in zones)


def _installments(session, account_ids):
    found = {}
    for row in session.execute(
        select(
            PaymentPlan.account_id,
            Installment.id,
            Installment.due_date,
            Installment.amount_minor,
            Installment.paid_minor,
            Installment.status,
            Installment.late_fee_minor,
        )
        .join(PaymentPlan, PaymentPlan.id == Installment.plan_id)
        .where(PaymentPlan.account_id.in_(account_ids))
        .where(PaymentPlan.status == statuses.Plan.ACTIVE)
        .order_by(Installment.plan_id, Installment.seq)
    ):
        found.setdefault(row.account_id, []).append(
            accrual.Inst(
                row.id,
                row.due_date,
                max(row.amount_minor - row.paid_minor, 0),
                row.status,
                row.late_fee_minor,
            )
        )
    return found


def _batch(session, rows, timelines, todays, fixed_today, now, report):
    plan_ids = [r.id for r in rows if r.status == statuses.Account.PLAN]
    installments = _installments(session, plan_ids) if plan_ids else {}
    entries, balances, owed, late, charged = [], [], [], [], []
    interest_kind, interest_bucket = statuses.Entry.INTEREST, statuses.Bucket.INTEREST
    fee_kind, fee_bucket = statuses.Entry.FEE, statuses.Bucket.FEE
    paused, plan = statuses.Account.PAUSED, statuses.Account.PLAN
    for r in rows:
        report.seen += 1
        today = fixed_today or todays(r.timezone, r.phone)
        if r.accrued_through is not None and r.accrued_through >= today:
            continue
        state = accrual.State(
            r.id,
            r.due_date,
            r.principal_minor,
            r.interest_charged_minor,
            r.accrued_through or r.opened_on,
            r.carry_nano,
            r.late_fee_for,
            r.opened_on,
            r.amount_due_minor,
            r.status in paused,
            installments.get(r.id) if r.status == plan else None,
        )
        result = accrual.accrue(state, timelines(r.segment), today)
        fees = 0
        if result.interest:
            key = f"interest:{today.isoformat()}"
            entries.append(
                (
                    r.id,
                    interest_kind,
                    interest_bucket,
                    result.interest,
                    r.currency,
                    today,
                    key,
                    None,
                    None,
                    result.policy_id,
                    ACTOR,
                    "daily interest",
                    now,
                )
            )
        for fee in result.fees:
            fees += fee.amount
            entries.append(
                (
                    r.id,
                    fee_kind,
                    fee_bucket,
                    fee.amount,
                    r.currency,
                    today,
                    fee.key,
                    None,
                    None,
                    fee.policy_id,
                    ACTOR,
                    fee.memo,
                    now,
                )
            )
        interest = result.interest
        balances.append(
            (interest, interest, fees, result.through, result.carry_nano, result.late_fee_for, r.id)
        )
        if interest or fees:
            owed.append((interest + fees, r.id))
            report.interest_minor += interest
            report.fee_minor += fees
            report.currencies.add(r.currency)
        if result.late:
            late.extend((statuses.Installment.LATE, i) for i in result.late)
            report.late_installments += len(result.late)
        if result.charged:
            charged.extend((amount, i) for i, amount in result.charged.items())
        report.accrued += 1
        report.fees += len(result.fees)
    report.entries += len(entries)
    _write(session, entries, balances, owed, late, charged)


# The batch's writes go straight to the driver's executemany: SQLAlchemy's per-row parameter
# processing cost more than the database's work (bench/accrual.py).
ENTRY_COLUMNS = tuple(_entry(0, "", "", "", 0, None, None, None, None, None))
WRITES = {
    "entries": (
        f"INSERT INTO ledger_entries ({', '.join(ENTRY_COLUMNS)}) "
        f"VALUES ({', '.join(['?'] * len(ENTRY_COLUMNS))})"
    ),
    "balances": (
        "UPDATE ledger_balances SET interest_minor = interest_minor + ?, "
        "interest_charged_minor = interest_charged_minor + ?, fee_minor = fee_minor + ?, "
        "accrued_through = ?, carry_nano = ?, late_fee_for = ? WHERE account_id = ?"
    ),
    "owed": "UPDATE accounts SET balance_minor = balance_minor + ? WHERE id = ?",
    "late": "UPDATE installments SET status = ? WHERE id = ?",
    "charged": "UPDATE installments SET late_fee_minor = ? WHERE id = ?",
}


def _write(session, entries, balances, owed, late, charged):
    connection = session.connection()
    style = connection.dialect.paramstyle

    def run(name, rows):
        if not rows:
            return
        sql = WRITES[name]
        if style in ("format", "pyformat"):
            sql = sql.replace("?", "%s")
        elif style != "qmark":  # pragma: no cover - the drivers this project uses are above
            raise RuntimeError(f"unsupported paramstyle {style}")
        connection.exec_driver_sql(sql, rows)

    run("entries", entries)
    run("balances", balances)
    run("owed", owed)
    run("late", late)
    run("charged", charged)


def accrue_account(session, account, today):
    """Accrue one account through today inside the caller's transaction (before a payment is
    applied, so interest is on the principal as it was); the session's objects are refreshed.
    Another process accruing the same account at that moment wins: its entries stand."""
    if session.get_bind().dialect.name == "sqlite":  # writers are serialized: no race
        report = run(session, account_ids=[account.id], today=today, commit=False)
    else:
        try:
            with session.begin_nested():
                report = run(session, account_ids=[account.id], today=today, commit=False)
        except IntegrityError:
            report = Report()
    session.expire_all()
    return report
