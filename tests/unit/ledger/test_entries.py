"""Posting, allocation, reversals, refunds and the breakdown a debtor reads."""

from datetime import date

import pytest
from sqlalchemy import select

from bot.ledger import breakdown, entries
from bot.models import Account, AuditEvent, LedgerBalance, LedgerEntry, Payment
from bot.payments import reconcile

TODAY = date(2026, 11, 23)


@pytest.fixture
def camila(db, demo_debtors):
    return db.execute(select(Account).where(Account.external_id == "DEMO-CO-001")).scalar_one()


def test_an_imported_debt_opens_with_its_amount_due(db, camila):
    [opening] = db.execute(select(LedgerEntry).where(LedgerEntry.account_id == camila.id)).scalars()
    assert (opening.kind, opening.bucket, opening.amount_minor) == (
        "charge",
        "principal",
        15_000_000,
    )
    assert opening.key == "opening" and opening.actor == "import"
    assert entries.verify(db, [camila.id]) == []


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("fee,interest,principal", {"fee": -300, "interest": -200, "principal": -500}),
        ("interest,fee,principal", {"interest": -200, "fee": -300, "principal": -500}),
        ("principal,interest,fee", {"principal": -1_000}),
        ("bogus", {"fee": -300, "interest": -200, "principal": -500}),  # the default order
    ],
)
def test_a_payment_follows_the_policys_allocation_order(db, camila, order, expected):
    entries.post(db, camila, "fee", {"fee": 300}, TODAY, "test", key="f")
    entries.post(db, camila, "interest", {"interest": 200}, TODAY, "test", key="i")
    from bot.debts import policies

    policies.get(db, "default").allocation_order = order
    payment = reconcile.apply_payment(db, camila, 1_000, "manual", "p1", today=TODAY)
    db.commit()
    parts = dict(
        db.execute(
            select(LedgerEntry.bucket, LedgerEntry.amount_minor).where(
                LedgerEntry.payment_id == payment.id
            )
        ).all()
    )
    assert parts == expected
    assert camila.balance_minor == 15_000_000 + 500 - 1_000


def test_a_key_posts_once(db, camila):
    first = entries.post(db, camila, "fee", {"fee": 300}, TODAY, "test", key="late_fee:x")
    again = entries.post(db, camila, "fee", {"fee": 300}, TODAY, "test", key="late_fee:x")
    assert len(first) == 1 and again == []
    assert camila.balance_minor == 15_000_300


def test_an_entry_that_would_make_a_bucket_negative_is_refused_and_changes_nothing(db, camila):
    with pytest.raises(entries.LedgerError):
        entries.post(db, camila, "payment", {"fee": -1}, TODAY, "test")
    db.commit()
    assert db.get(LedgerBalance, camila.id).fee_minor == 0
    assert camila.balance_minor == 15_000_000
    with pytest.raises(entries.LedgerError):
        entries.post(db, camila, "bogus", {"fee": 1}, TODAY, "test")


def test_a_reversal_undoes_an_entry_once_and_history_stays(db, camila):
    [fee] = entries.post(db, camila, "fee", {"fee": 300}, TODAY, "test", key="f")
    [undo] = entries.reverse(db, fee, "agent:1", "charged by mistake", today=TODAY)
    assert (undo.kind, undo.amount_minor, undo.reverses_id) == ("reversal", -300, fee.id)
    assert entries.reverse(db, fee, "agent:1", "again", today=TODAY) == []
    with pytest.raises(entries.LedgerError):
        entries.reverse(db, undo, "agent:1", "undo the undo", today=TODAY)
    db.commit()
    assert db.get(LedgerEntry, fee.id).amount_minor == 300  # never changed
    assert camila.balance_minor == 15_000_000
    assert breakdown.totals(db, camila)["fees"] == 0
    assert db.execute(select(AuditEvent).where(AuditEvent.action == "ledger.reversed")).first()


def test_a_surplus_is_the_debtors_credit_until_refunded(db, camila):
    payment = reconcile.apply_payment(db, camila, 16_000_000, "manual", "p1", today=TODAY)
    db.commit()
    balance = db.get(LedgerBalance, camila.id)
    assert (camila.balance_minor, balance.credit_minor, payment.surplus_minor) == (
        0,
        -1_000_000,
        1_000_000,
    )
    with pytest.raises(entries.LedgerError):
        entries.refund_credit(db, camila, 1_000_001, "agent:1", "too much", today=TODAY)
    entries.refund_credit(db, camila, 1_000_000, "agent:1", "returned", key="r1", today=TODAY)
    db.commit()
    assert balance.credit_minor == 0 and entries.verify(db, [camila.id]) == []
    assert db.get(Payment, payment.id).amount_minor == 16_000_000


def test_the_breakdown_names_principal_interest_fees_and_payments(app, db, camila):
    entries.post(db, camila, "interest", {"interest": 45_000}, TODAY, "test", key="i")
    entries.post(db, camila, "fee", {"fee": 5_000}, TODAY, "test", key="f")
    reconcile.apply_payment(db, camila, 1_000_000, "manual", "p1", today=TODAY)
    db.commit()
    variables = breakdown.balance_breakdown(db, camila, TODAY)
    assert variables["principal"] == {"amount": "150000.00", "currency": "COP"}
    assert variables["interest"]["amount"] == "450.00" and variables["fees"]["amount"] == "50.00"
    assert variables["payments"]["amount"] == "10000.00"
    assert variables["balance"]["amount"] == "140500.00"
    assert variables["days_overdue"] == 13 and "interest_terms" not in variables
    assert breakdown.grew(variables)
    from bot.templates import store

    with app.app_context():
        [first] = breakdown.messages(db, camila, TODAY)
        text, _used = store.render(db, first["template"], "es-CO", first["vars"])
    assert "capital $150.000" in text and "intereses" in text and "$450" in text
