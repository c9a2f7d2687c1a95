from datetime import date

import pytest
from sqlalchemy import select

from bot.debts import promises
from bot.models import PaymentPolicy, Promise

TODAY = date(2026, 11, 23)


def test_default_policy_is_seeded_by_the_migration(db):
    policy = db.execute(select(PaymentPolicy)).scalar_one()
    assert (policy.portfolio, policy.max_promise_days) == ("default", 15)


@pytest.mark.parametrize(
    ("promised", "outcome"),
    [
        (date(2026, 11, 27), "recorded"),
        (date(2026, 12, 8), "recorded"),  # exactly 15 days
        (date(2026, 12, 9), "too_far"),
        (date(2026, 11, 22), "past"),
    ],
)
def test_promise_inside_policy(db, conversation, promised, outcome):
    result, detail = promises.promise(db, conversation, promised, "debtor", today=TODAY)
    db.commit()
    assert result == outcome
    stored = db.execute(select(Promise)).scalars().all()
    if outcome == "recorded":
        assert stored[0].promised_date == promised and stored[0].amount_minor == 15_000_000
    else:
        assert stored == []
    if outcome == "too_far":
        assert detail == date(2026, 12, 8)


def test_a_segment_policy_wins(db, conversation):
    db.add(PaymentPolicy(portfolio="demo", max_promise_days=30))
    db.commit()
    result, _ = promises.promise(db, conversation, date(2026, 12, 20), "debtor", today=TODAY)
    assert result == "recorded"


def test_a_deferral_may_go_further_than_a_promise(db, conversation):
    day = date(2026, 12, 20)  # 27 days ahead: beyond 15, inside 30
    assert promises.promise(db, conversation, day, "debtor", today=TODAY)[0] == "too_far"
    result, _ = promises.promise(db, conversation, day, "debtor", today=TODAY, deferral=True)
    assert result == "recorded"
