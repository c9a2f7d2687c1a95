"""Partial payments ("abonos"): at least the policy's minimum, a link for the amount, and
promises for part of the balance."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from bot.debts import partial, policies, promises
from bot.models import Account, AuditEvent, Promise
from bot.payments import links, reconcile

TODAY = date(2026, 11, 23)


@pytest.fixture
def camila(db, demo_debtors):
    policies.get(db, "default").min_partial_minor = 2_000_000  # COP 20.000
    db.commit()
    return db.execute(select(Account).where(Account.external_id == "DEMO-CO-001")).scalar_one()


def test_the_amount_is_checked_against_the_minimum_and_the_balance(db, camila):
    assert partial.check(db, camila, 1_999_999, TODAY) == ("too_small", 15_000_000, 2_000_000)
    assert partial.check(db, camila, None, TODAY)[0] == "too_small"
    assert partial.check(db, camila, 5_000_000, TODAY)[0] == "ok"
    assert partial.check(db, camila, 15_000_000, TODAY)[0] == "full"
    camila.status = "disputed"  # under review: the part the debtor recognises can be paid
    assert partial.check(db, camila, 5_000_000, TODAY)[0] == "ok"
    camila.status = "paid"
    assert partial.check(db, camila, 5_000_000, TODAY)[0] == "nothing_owed"


def test_the_chat_gets_a_link_for_the_amount_with_what_remains(app, db, camila):
    with app.test_request_context():
        message = partial.partial_payment(db, camila, 5_000_000, TODAY)
        assert message["template"] == "partial.link"
        assert message["vars"]["remaining"]["amount"] == "100000.00"
        token = message["vars"]["url"].rsplit("/", 1)[1]
        assert links.amount_of(token) == 5_000_000 and links.read(token)[0] == camila.id
        small = partial.partial_payment(db, camila, 100_000, TODAY)
        assert small["template"] == "partial.too_small"
        assert small["vars"]["minimum"]["amount"] == "20000.00"
        whole = partial.partial_payment(db, camila, 20_000_000, TODAY)
        assert whole["template"] == "payment.link"
        assert whole["vars"]["amount"]["amount"] == "150000.00"
        asked = partial.ask_amount(db, camila, TODAY)
        assert asked["vars"]["minimum"]["amount"] == "20000.00"
    # Only the link for part of the balance is a promise of that part, due when it expires.
    [promise] = db.execute(select(Promise)).scalars().all()
    assert (promise.account_id, promise.amount_minor, promise.status) == (
        camila.id,
        5_000_000,
        "pending",
    )
    assert promise.promised_date == TODAY + timedelta(days=3)  # PAY_LINK_TTL_HOURS = 72
    sent = db.execute(
        select(AuditEvent).where(AuditEvent.action == "partial_payment.link_sent")
    ).scalar_one()
    assert sent.data["promise_id"] == promise.id and sent.data["remaining_minor"] == 10_000_000


def test_a_disputed_account_gets_a_link_for_the_recognised_part(app, db, camila):
    camila.status = "disputed"
    with app.test_request_context():
        message = partial.partial_payment(db, camila, 2_000_000, TODAY)
    assert message["template"] == "partial.link"
    assert message["vars"]["remaining"]["amount"] == "130000.00"
    db.commit()
    reconcile.apply_payment(db, camila, 2_000_000, "manual", "p2", today=TODAY)
    db.commit()
    assert db.execute(select(Promise.status)).scalar_one() == "kept"
    assert camila.status == "disputed" and camila.balance_minor == 13_000_000


def test_a_promise_for_part_of_the_balance_is_kept_when_that_part_is_paid(db, camila):
    outcome, minimum = promises.promise(
        db, None, TODAY + timedelta(days=3), "debtor", TODAY, account=camila, amount_minor=1_000
    )
    assert (outcome, minimum) == ("too_small", 2_000_000)
    outcome, row = promises.promise(
        db,
        None,
        TODAY + timedelta(days=3),
        "debtor",
        TODAY,
        account=camila,
        amount_minor=5_000_000,
    )
    db.commit()
    assert outcome == "recorded" and row.amount_minor == 5_000_000
    reconcile.apply_payment(db, camila, 5_000_000, "manual", "p1", today=TODAY + timedelta(days=1))
    db.commit()
    assert db.get(Promise, row.id).status == "kept"
    assert camila.balance_minor == 10_000_000 and camila.status == "open"
