"""The daily accrual over the database: each debtor's today, idempotence, plans, pauses,
payments that accrue first, the workers' tick and the CLI."""

from datetime import date, datetime

import pytest
from redis import Redis
from sqlalchemy import func, select, update

from bot import statuses
from bot.debts import plans, policies
from bot.ledger import daily, entries
from bot.models import (
    Account,
    Debtor,
    LedgerBalance,
    LedgerEntry,
)
from bot.payments import reconcile
from bot.tasks import periodic

OPENED = date(2026, 11, 20)


@pytest.fixture
def interest(db, demo_debtors):
    """36.5 % a year (1,000 a day per 1,000,000), a 5,000 late fee after 3 days; the ledgers
    of the demo debts opened on OPENED."""
    policy = policies.get(db, "default")
    policy.interest_rate_bps = 3650
    policy.late_fee_minor = 5_000
    policy.late_fee_grace_days = 3
    db.execute(update(LedgerBalance).values(opened_on=OPENED, accrued_through=OPENED))
    db.commit()
    return policy


def account(db, ref):
    return db.execute(select(Account).where(Account.external_id == ref)).scalar_one()


def interest_entries(db, acc):
    return db.execute(
        select(LedgerEntry.effective_date, LedgerEntry.amount_minor)
        .where(LedgerEntry.account_id == acc.id, LedgerEntry.kind == "interest")
        .order_by(LedgerEntry.id)
    ).all()


def test_each_account_accrues_through_its_debtors_own_today(db, interest):
    camila, valentina = account(db, "DEMO-CO-001"), account(db, "DEMO-CL-001")
    # 03:00 UTC: still the 20th in Bogotá, already the 21st in Santiago.
    daily.run(db, now=datetime(2026, 11, 21, 3, 0))
    db.expire_all()
    assert interest_entries(db, camila) == []
    # CLP 89,990 at 36.5 %: 89.99 a day; the 0.99 is carried.
    assert interest_entries(db, valentina) == [(date(2026, 11, 21), 89)]
    daily.run(db, now=datetime(2026, 11, 21, 15, 0))
    db.expire_all()
    assert interest_entries(db, camila) == [(date(2026, 11, 21), 15_000)]
    assert camila.balance_minor == 15_015_000
    assert entries.verify(db) == []


def test_running_twice_adds_nothing(db, interest):
    first = daily.run(db, now=datetime(2026, 11, 25, 15, 0))
    count = db.execute(select(func.count(LedgerEntry.id))).scalar()
    second = daily.run(db, now=datetime(2026, 11, 25, 15, 0))
    assert first.accrued >= 3 and second.accrued == 0
    assert db.execute(select(func.count(LedgerEntry.id))).scalar() == count
    camila = account(db, "DEMO-CO-001")
    db.expire_all()
    # Five days at 15,000 and one late fee (due the 10th, grace over before the ledger opened:
    # none); the debts not yet due accrue nothing.
    assert camila.balance_minor == 15_000_000 + 5 * 15_000
    assert account(db, "DEMO-MX-001").balance_minor == 235_050
    assert entries.verify(db) == []


def test_a_late_fee_once_the_grace_days_pass_after_the_ledger_opened(db, interest):
    jorge = account(db, "DEMO-MX-001")  # due 2026-12-05
    for day in range(5, 12):
        daily.run(db, now=datetime(2026, 12, day, 18, 0))
    fees = db.execute(
        select(LedgerEntry.effective_date, LedgerEntry.amount_minor, LedgerEntry.key).where(
            LedgerEntry.account_id == jorge.id, LedgerEntry.kind == "fee"
        )
    ).all()
    assert fees == [(date(2026, 12, 9), 5_000, "late_fee:2026-12-05")]
    assert entries.verify(db) == []


def test_installments_become_late_and_each_pays_its_fee_once(db, interest):
    camila = account(db, "DEMO-CO-001")
    policy = policies.policy_for(db, camila, OPENED)
    rows = plans.schedule(camila.balance_minor, 3, policy, date(2026, 11, 22))
    plan = plans.create_plan(db, camila, rows, actor="debtor", today=OPENED)
    db.commit()
    for day in range(21, 30):
        daily.run(db, now=datetime(2026, 11, day, 18, 0))
    db.expire_all()
    first, second, _third = plan.installments
    assert (first.status, first.late_fee_minor) == (statuses.Installment.LATE, 5_000)
    assert (second.status, second.late_fee_minor) == ("due", None)
    # Interest only on the first installment, from the 23rd (the day after its due date).
    days = interest_entries(db, camila)
    assert days[0][0] == date(2026, 11, 23)
    assert sum(a for _, a in days) == first.amount_minor * 3650 * 7 // 3_650_000
    # Paying it fills it (late or not), the fee and interest first.
    payment = reconcile.apply_payment(
        db, camila, first.amount_minor, "sandbox", "p1", today=date(2026, 11, 29)
    )
    db.commit()
    parts = dict(
        db.execute(
            select(LedgerEntry.bucket, LedgerEntry.amount_minor).where(
                LedgerEntry.payment_id == payment.id
            )
        ).all()
    )
    assert parts["fee"] == -5_000 and parts["interest"] < 0
    assert first.status == statuses.Installment.PAID
    assert entries.verify(db) == []


def test_a_paused_debt_accrues_nothing_and_does_not_catch_up(db, interest):
    camila = account(db, "DEMO-CO-001")
    camila.status = statuses.Account.DISPUTED
    db.commit()
    daily.run(db, now=datetime(2026, 11, 25, 15, 0))
    camila.status = statuses.Account.OPEN
    db.commit()
    daily.run(db, now=datetime(2026, 11, 26, 15, 0))
    db.expire_all()
    assert interest_entries(db, camila) == [(date(2026, 11, 26), 15_000)]


def test_a_payment_accrues_first_then_pays_interest_before_principal(db, interest):
    camila = account(db, "DEMO-CO-001")
    policy = policies.get(db, "default")
    policy.allocation_order = "interest,fee,principal"
    db.commit()
    payment = reconcile.apply_payment(
        db, camila, 1_000_000, "sandbox", "p1", today=date(2026, 11, 24)
    )
    db.commit()
    parts = dict(
        db.execute(
            select(LedgerEntry.bucket, LedgerEntry.amount_minor).where(
                LedgerEntry.payment_id == payment.id
            )
        ).all()
    )
    assert parts == {"interest": -60_000, "principal": -940_000}
    assert camila.balance_minor == 15_000_000 + 60_000 - 1_000_000
    # The job that runs later that day finds the account accrued.
    assert daily.run(db, now=datetime(2026, 11, 24, 20, 0)).accrued <= 4
    assert len(interest_entries(db, camila)) == 1
    assert entries.verify(db) == []


def test_an_account_created_without_a_ledger_gets_one(db, interest):
    debtor = db.execute(select(Debtor)).scalars().first()
    row = Account(
        debtor=debtor,
        external_id="LEGACY-1",
        currency="COP",
        amount_due_minor=500_000,
        balance_minor=500_000,
        due_date=date(2026, 1, 1),
    )
    db.add(row)
    db.commit()
    report = daily.run(db, now=datetime(2026, 11, 25, 15, 0))
    assert report.opened == 1
    db.expire_all()
    balance = db.get(LedgerBalance, row.id)
    assert balance.principal_minor == 500_000 and row.balance_minor == 500_000
    assert entries.verify(db) == []


def test_the_workers_tick_asks_for_the_job_once_per_interval(app, db, interest):
    app.config["ACCRUAL_INTERVAL"] = 3600
    redis = Redis.from_url(app.config["REDIS_URL"])
    with app.app_context():
        assert periodic.accrual_tick(now=datetime(2026, 11, 25, 15, 0)) is True
        assert periodic.accrual_tick(now=datetime(2026, 11, 25, 15, 30)) is False
        assert periodic.accrual_tick(now=datetime(2026, 11, 25, 16, 1)) is True
    assert redis.llen("rq:queue:maintenance") == 2
    with app.app_context():
        report = periodic.accrue(now=datetime(2026, 11, 25, 15, 0))
        assert report.accrued >= 3
        # One run at a time: a second one while the lock is held does nothing.
        lock = periodic.accrual_lock()
        assert lock.acquire(blocking=False)
        assert periodic.accrue(now=datetime(2026, 11, 26, 15, 0)) is None
        lock.release()


def test_the_cli_accrues_checks_and_shows(app, db, interest):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["ledger", "accrue", "--now", "2026-11-22T15:00:00+00:00"])
    assert result.exit_code == 0, result.output
    assert "accrued" in result.output
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 0 and "every balance equals" in result.output
    result = runner.invoke(args=["ledger", "show", "DEMO-CO-001"])
    assert "charge" in result.output and "150000.00 COP" in result.output
    assert "interest" in result.output and "balance 150300.00 COP" in result.output
    assert runner.invoke(args=["ledger", "accrue", "--now", "yesterday"]).exit_code != 0
    # A cache that drifted from its entries is reported.
    db.execute(update(Account).where(Account.external_id == "DEMO-CO-001").values(balance_minor=1))
    db.commit()
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code != 0 and "balance_minor is 1" in result.output
