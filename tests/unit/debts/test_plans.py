from datetime import date

import pytest

from bot.debts import plans
from bot.models import PaymentPolicy

POLICY = PaymentPolicy(portfolio="t", max_installments=12, min_first_payment_pct=10)


@pytest.mark.parametrize(
    ("count", "per", "expected"),
    [
        (6, None, (6, False)),
        (24, None, (12, True)),
        (1, None, (2, True)),
        (None, 2_000_000, (8, False)),
    ],
)
def test_fit_count(count, per, expected):
    assert plans.fit_count(15_000_000, POLICY, count, per) == expected


def test_schedule_is_exact_monthly_and_respects_the_first_payment():
    rows = plans.schedule(15_000_001, 4, POLICY, date(2026, 1, 31))
    assert sum(a for _, a in rows) == 15_000_001
    assert [d for d, _ in rows] == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
    ]
    assert len({a for _, a in rows[1:]}) == 1
    policy = PaymentPolicy(portfolio="t", max_installments=12, min_first_payment_pct=40)
    rows = plans.schedule(1000, 4, policy, date(2026, 1, 1))
    assert rows[0][1] >= 400 and sum(a for _, a in rows) == 1000


def test_minimum_installment_limits_the_count_and_the_fee_is_added():
    policy = PaymentPolicy(
        portfolio="t",
        max_installments=12,
        min_first_payment_pct=10,
        min_installment_minor=4_000_000,
        plan_fee_bps=150,
    )
    assert plans.fit_count(15_000_000, policy, 6) == (3, True)  # 150 000 / 40 000 -> 3
    assert plans.fee(15_000_000, policy) == 225_000  # 1.5 %
    assert plans.fee(15_000_000, POLICY) == 0
