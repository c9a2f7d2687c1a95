"""Accrual edge cases on plain values: grace days, caps, policy changes, leap years, plans."""

from datetime import date, timedelta

import pytest

from bot.ledger import accrual
from bot.models import PaymentPolicy
from bot.models.money import EPOCH

DUE = date(2026, 11, 10)


def version(effective=EPOCH, vid=1, **fields):
    values = {
        "interest_rate_bps": 3650,  # 36.5 % a year: 1,000 a day on 1,000,000 (365-day year)
        "interest_max_rate_bps": 0,
        "interest_max_total_bps": 0,
        "interest_basis": 365,
        "interest_grace_days": 0,
        "late_fee_minor": 0,
        "late_fee_bps": 0,
        "late_fee_grace_days": 0,
    }
    values.update(fields)
    return PaymentPolicy(id=vid, portfolio="default", effective_from=effective, **values)


def state(principal=1_000_000, through=DUE, **fields):
    values = {
        "account_id": 1,
        "due_date": DUE,
        "principal": principal,
        "interest_charged": 0,
        "accrued_through": through,
        "carry_nano": 0,
        "late_fee_for": None,
        "opened_on": date(2026, 11, 1),
        "cap_base": principal,
    }
    values.update(fields)
    return accrual.State(**values)


def run_days(st, line, first, last):
    """Accrue day by day, as the daily job does, carrying the state; the total interest."""
    total, day = 0, first
    while day <= last:
        result = accrual.accrue(st, line, day)
        total += result.interest
        st.accrued_through, st.carry_nano = result.through, result.carry_nano
        st.interest_charged += result.interest
        st.late_fee_for = result.late_fee_for
        day += timedelta(days=1)
    return total


def test_one_day_of_simple_interest_on_overdue_principal():
    result = accrual.accrue(state(), [version()], DUE + timedelta(days=1))
    assert (result.interest, result.carry_nano, result.through) == (1_000, 0, date(2026, 11, 11))


def test_nothing_before_the_due_date_and_nothing_twice():
    st = state(through=date(2026, 11, 5))
    assert accrual.accrue(st, [version()], DUE).interest == 0  # not overdue yet
    st.accrued_through = DUE + timedelta(days=1)
    again = accrual.accrue(st, [version()], DUE + timedelta(days=1))
    assert again.interest == 0 and again.fees == []


def test_a_catch_up_after_missed_days_equals_the_daily_runs():
    day = DUE + timedelta(days=7)
    assert accrual.accrue(state(), [version()], day).interest == 7_000
    assert run_days(state(), [version()], DUE + timedelta(days=1), day) == 7_000


@pytest.mark.parametrize(("grace", "charged_days"), [(0, 10), (3, 7), (10, 0), (15, 0)])
def test_interest_grace_days(grace, charged_days):
    line = [version(interest_grace_days=grace)]
    assert run_days(state(), line, DUE, DUE + timedelta(days=10)) == charged_days * 1_000


def test_the_late_fee_comes_once_the_grace_days_are_over():
    line = [
        version(interest_rate_bps=0, late_fee_minor=5_000, late_fee_bps=100, late_fee_grace_days=5)
    ]
    st = state()
    fees = []
    for n in range(1, 12):
        result = accrual.accrue(st, line, DUE + timedelta(days=n))
        fees.append((n, [f.amount for f in result.fees]))
        st.accrued_through, st.late_fee_for = result.through, result.late_fee_for
    charged = [(n, amounts) for n, amounts in fees if amounts]
    assert charged == [(6, [5_000 + 10_000])]  # day 6: 5,000 + 1 % of 1,000,000, once


def test_no_late_fee_for_a_due_date_already_past_its_grace_when_the_ledger_opened():
    line = [version(interest_rate_bps=0, late_fee_minor=5_000)]
    st = state(opened_on=DUE + timedelta(days=30), through=DUE + timedelta(days=30))
    result = accrual.accrue(st, line, DUE + timedelta(days=31))
    assert result.fees == [] and result.late_fee_for == DUE  # never charged later either


def test_the_rate_is_capped_by_the_maximum_annual_rate():
    line = [version(interest_rate_bps=7300, interest_max_rate_bps=3650)]
    assert accrual.accrue(state(), line, DUE + timedelta(days=3)).interest == 3_000


def test_total_interest_never_exceeds_its_cap():
    line = [version(interest_max_total_bps=100)]  # 1 % of 1,000,000: 10,000 in all
    st = state()
    total = run_days(st, line, DUE + timedelta(days=1), DUE + timedelta(days=30))
    assert total == 10_000 and st.interest_charged == 10_000 and st.carry_nano == 0
    # A cap already reached (e.g. interest charged before) leaves nothing to charge.
    assert (
        accrual.accrue(state(interest_charged=10_000), line, DUE + timedelta(days=5)).interest == 0
    )


def test_a_policy_change_mid_month_applies_from_its_effective_date_only():
    line = [version(), version(date(2026, 11, 15), vid=2, interest_rate_bps=7300)]
    result = accrual.accrue(state(), line, date(2026, 11, 20))
    # 11th-14th at 1,000 a day, 15th-20th at 2,000 a day; stamped with the version of the 20th.
    assert result.interest == 4 * 1_000 + 6 * 2_000 and result.policy_id == 2
    # The same through daily runs.
    assert run_days(state(), line, date(2026, 11, 11), date(2026, 11, 20)) == 16_000


def test_a_late_fee_follows_the_version_in_force_the_day_it_fell_due():
    line = [
        version(interest_rate_bps=0, late_fee_minor=5_000),
        version(date(2026, 11, 20), vid=2, interest_rate_bps=0, late_fee_minor=9_000),
    ]
    # The job missed days: on the 25th the fee of the 11th is still the old one.
    result = accrual.accrue(state(), line, date(2026, 11, 25))
    assert [(f.amount, f.policy_id) for f in result.fees] == [(5_000, 1)]


def test_leap_years_count_366_days_on_an_actual_day_count():
    line = [version(interest_rate_bps=1000, interest_basis=0)]
    st = state(principal=3_660_000, due_date=date(2028, 1, 1), through=date(2028, 2, 27))
    # 3,660,000 at 10 % over 366 days is exactly 1,000 a day, Feb 29 included.
    assert accrual.accrue(st, line, date(2028, 3, 1)).interest == 3_000
    # In 2027 the same principal earns 1,002.74 a day: fractions are carried, not lost.
    st = state(principal=3_660_000, due_date=date(2027, 1, 1), through=date(2027, 2, 27))
    result = accrual.accrue(st, line, date(2027, 3, 1))
    assert result.interest == 2_005 and result.carry_nano == 479_452_054


@pytest.mark.parametrize(("basis", "expected"), [(360, 10_138), (365, 10_000)])
def test_a_360_day_year_charges_more_per_day(basis, expected):
    line = [version(interest_basis=basis)]
    assert accrual.accrue(state(), line, DUE + timedelta(days=10)).interest == expected


def test_a_small_balance_accrues_its_cents_over_the_days():
    line = [version(interest_rate_bps=2400)]
    st = state(principal=100)
    assert run_days(st, line, DUE + timedelta(days=1), DUE + timedelta(days=15)) == 0
    assert run_days(st, line, DUE + timedelta(days=16), DUE + timedelta(days=16)) == 1


def test_a_paused_account_accrues_nothing_and_its_days_pass():
    result = accrual.accrue(state(paused=True), [version()], DUE + timedelta(days=5))
    assert result.interest == 0 and result.through == DUE + timedelta(days=5)


def test_on_a_plan_only_installments_past_due_accrue_and_each_pays_one_late_fee():
    line = [version(late_fee_minor=700, late_fee_grace_days=2)]
    first = accrual.Inst(11, date(2026, 12, 1), 400_000, "due", None)
    second = accrual.Inst(12, date(2027, 1, 1), 600_000, "due", None)
    st = state(through=date(2026, 12, 1), installments=[first, second])
    result = accrual.accrue(st, line, date(2026, 12, 2))
    assert result.interest == 400 and result.late == [11] and result.fees == []
    st.accrued_through = date(2026, 12, 3)
    result = accrual.accrue(st, line, date(2026, 12, 4))
    assert [(f.key, f.amount) for f in result.fees] == [("late_fee:installment:11", 700)]
    assert result.charged == {11: 700}
