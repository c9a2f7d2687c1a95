"""Property: whatever happens to a debt, in whatever order, the ledger holds.

Random sequences of charges, daily accruals (interest and late fees), partial payments, plans,
settlements, refunds, reversals and provider webhooks delivered twice, for the same checkout
under another event id, or out of order (expired or pending after completed). After every
step: each cached balance equals the sum of its entries, no bucket is negative, every payment
is in the ledger once and whole, and the total of the entries is exactly what the test itself
charged, accrued and received: no amount lost or created.
"""

import itertools
from datetime import date, datetime, time, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot import statuses
from bot.debts import plans, policies, settlements
from bot.ledger import daily, entries
from bot.models import (
    Account,
    Checkout,
    Debtor,
    LedgerBalance,
    LedgerEntry,
    Payment,
    PaymentPlan,
)
from bot.payments import reconcile
from bot.payments.providers import Event

START = date(2026, 3, 1)
COUNTER = itertools.count(1)

amounts = st.integers(min_value=1, max_value=3_000_000)
steps = st.one_of(
    st.tuples(st.just("accrue"), st.integers(min_value=1, max_value=40)),
    st.tuples(st.just("charge"), amounts),
    st.tuples(st.just("pay"), amounts),
    st.tuples(
        st.just("webhook"),
        amounts,
        st.sampled_from(["twice", "other_event", "expired_after", "pending_first", "once"]),
    ),
    st.tuples(st.just("plan"), st.integers(min_value=2, max_value=6)),
    st.tuples(st.just("settle"), st.integers(min_value=1, max_value=99)),
    st.tuples(st.just("refund"), st.integers(min_value=1, max_value=100)),
    st.tuples(st.just("reverse"), st.integers(min_value=0, max_value=1000)),
)


class Books:
    """What the test itself did, to check the ledger against."""

    def __init__(self, opening):
        self.expected = opening  # charged + accrued - received + refunded +- reversed
        self.received = 0
        self.payments = set()


def new_account(db):
    n = next(COUNTER)
    debtor = Debtor(
        full_name="Prop Test",
        phone=f"+5730099{n:05d}",
        locale="es-CO",
        country="CO",
        timezone="America/Bogota",
        id_secret_hash="x",
        id_secret_salt="y",
    )
    account = Account(
        debtor=debtor,
        external_id=f"PROP-{n}",
        currency="COP",
        amount_due_minor=10_000_000,
        balance_minor=10_000_000,
        due_date=START - timedelta(days=10),
    )
    db.add(account)
    db.flush()
    entries.open_ledger(db, account, today=START)
    db.commit()
    return account


def check(db, account, books):
    db.expire_all()
    assert entries.verify(db, [account.id]) == []
    balance = db.get(LedgerBalance, account.id)
    assert min(balance.principal_minor, balance.interest_minor, balance.fee_minor) >= 0
    assert balance.credit_minor <= 0 and account.balance_minor >= 0
    total = db.execute(
        select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(
            LedgerEntry.account_id == account.id
        )
    ).scalar()
    created = db.execute(
        select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(
            LedgerEntry.account_id == account.id,
            LedgerEntry.kind.in_(("interest", "fee")),
            LedgerEntry.reverses_id.is_(None),
        )
    ).scalar()
    forgiven = db.execute(
        select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(
            LedgerEntry.account_id == account.id,
            LedgerEntry.kind.in_(("discount", "write_off")),
        )
    ).scalar()
    assert total == books.expected + created + forgiven
    # Every payment once and whole: its entries add up to minus its amount.
    rows = db.execute(select(Payment).where(Payment.account_id == account.id)).scalars().all()
    assert {p.provider_ref for p in rows} == books.payments
    assert sum(p.amount_minor for p in rows) == books.received
    for p in rows:
        posted = db.execute(
            select(func.sum(LedgerEntry.amount_minor)).where(
                LedgerEntry.payment_id == p.id, LedgerEntry.kind == "payment"
            )
        ).scalar()
        assert posted == -p.amount_minor


def webhook(db, account, amount, how, today, books):
    ref = f"cs_prop_{next(COUNTER)}"
    checkout = Checkout(
        account_id=account.id,
        provider="sandbox",
        provider_ref=ref,
        purpose="partial",
        amount_minor=amount,
        currency="COP",
    )
    db.add(checkout)
    db.commit()

    def event(kind, event_id):
        types = {"completed": "checkout.session.completed", "expired": "checkout.session.expired"}
        return Event(
            id=event_id,
            type=types.get(kind, "checkout.session.completed"),
            kind=kind,
            ref=ref,
            amount_minor=amount if kind != "expired" else None,
            currency="COP",
        )

    deliveries = {
        "once": [event("completed", f"e{ref}")],
        "twice": [event("completed", f"e{ref}"), event("completed", f"e{ref}")],
        "other_event": [event("completed", f"e{ref}"), event("completed", f"f{ref}")],
        "expired_after": [event("completed", f"e{ref}"), event("expired", f"g{ref}")],
        "pending_first": [event("pending", f"h{ref}"), event("completed", f"e{ref}")],
    }[how]
    applied = 0
    for delivered in deliveries:
        outcome, payment = reconcile.handle_event(db, "sandbox", delivered)
        if payment is not None:
            applied += 1
        db.commit()
    assert applied == 1
    books.payments.add(ref)
    books.received += amount
    books.expected -= amount


def step(db, account, op, today, books):
    kind = op[0]
    if kind == "accrue":
        today += timedelta(days=op[1])
        daily.run(db, now=datetime.combine(today, time(18)), account_ids=[account.id])
    elif kind == "charge":
        entries.post(db, account, "charge", {"principal": op[1]}, today, "test", memo="charge")
        books.expected += op[1]
    elif kind == "pay":
        ref = f"p{next(COUNTER)}"
        reconcile.apply_payment(db, account, op[1], "manual", ref, today=today)
        books.payments.add(ref)
        books.received += op[1]
        books.expected -= op[1]
    elif kind == "webhook":
        webhook(db, account, op[1], op[2], today, books)
    elif kind == "plan":
        db.refresh(account)
        if account.status == statuses.Account.OPEN and account.balance_minor >= op[1]:
            policy = policies.policy_for(db, account, today)
            rows = plans.schedule(account.balance_minor, op[1], policy, today)
            plans.create_plan(db, account, rows, actor="test", today=today)
    elif kind == "settle":
        db.refresh(account)
        if account.status in statuses.Account.COLLECTIBLE and account.balance_minor > 1:
            amount = max(account.balance_minor * op[1] // 100, 1)
            offer = settlements.Offer(
                op[1], amount, account.balance_minor, today + timedelta(days=10), None
            )
            settlements.agree(db, account, offer, "test", today, override_reason="property")
    elif kind == "refund":
        held = -db.get(LedgerBalance, account.id).credit_minor
        if held:
            amount = max(held * op[1] // 100, 1)
            entries.refund_credit(db, account, amount, "test", "refund", today=today)
            books.expected += amount
    elif kind == "reverse":
        candidates = (
            db.execute(
                select(LedgerEntry)
                .where(
                    LedgerEntry.account_id == account.id,
                    LedgerEntry.kind.in_(("charge", "fee", "interest")),
                )
                .order_by(LedgerEntry.id)
            )
            .scalars()
            .all()
        )
        if candidates:
            entry = candidates[op[1] % len(candidates)]
            try:
                posted = entries.reverse(db, entry, "test", "reversal", today=today)
            except entries.LedgerError:
                db.rollback()  # already paid: refused, nothing changed
                posted = []
            if posted and entry.kind == "charge":
                books.expected -= entry.amount_minor
            if posted and entry.kind in ("fee", "interest"):
                books.expected -= entry.amount_minor
    db.commit()
    return today


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(steps, min_size=1, max_size=14))
def test_the_ledger_always_holds(db, ledger_policy, ops):
    account = new_account(db)
    books = Books(10_000_000)
    today = START
    for op in ops:
        today = step(db, account, op, today, books)
        check(db, account, books)
    # A paid settlement closed the account; a completed plan left nothing on its schedule.
    db.expire_all()
    for plan in db.execute(
        select(PaymentPlan).where(PaymentPlan.account_id == account.id)
    ).scalars():
        if plan.status == statuses.Plan.COMPLETED:
            assert all(i.paid_minor >= i.amount_minor for i in plan.installments)
    if account.status == statuses.Account.PAID:
        assert account.balance_minor == 0


def test_a_paid_settlement_writes_off_the_rest_once(db, ledger_policy):
    account = new_account(db)
    offer = settlements.Offer(60, 6_000_000, 10_000_000, START + timedelta(days=10), None)
    settlements.agree(db, account, offer, "test", START, override_reason="test")
    db.commit()
    reconcile.apply_payment(db, account, 2_000_000, "manual", "s1", today=START)
    reconcile.apply_payment(db, account, 4_000_000, "manual", "s2", today=START)
    db.commit()
    db.expire_all()
    assert account.balance_minor == 0 and account.status == statuses.Account.PAID
    offs = db.execute(
        select(LedgerEntry.amount_minor).where(
            LedgerEntry.account_id == account.id, LedgerEntry.kind == "write_off"
        )
    ).all()
    assert sum(a for (a,) in offs) == -4_000_000
    assert entries.verify(db, [account.id]) == []
