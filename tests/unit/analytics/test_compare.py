"""Variant comparisons: Wilson intervals, Fisher's test against the control, Bonferroni."""

import pytest

from bot.analytics import compare


def test_a_rate_has_its_wilson_interval():
    r = compare.rate(30, 100)
    assert r.value == 0.3
    assert r.low == pytest.approx(0.2189, abs=1e-3) and r.high == pytest.approx(0.3958, abs=1e-3)
    assert compare.rate(0, 0).low is None


def test_a_clear_difference_is_significant_and_says_which_way():
    control, challenger = compare.rate(100, 1000), compare.rate(160, 1000)
    compare.against(control, challenger, tests=1)
    assert challenger.significant and challenger.better is True
    assert challenger.p_value < 0.001
    assert challenger.ratio == pytest.approx(1.6)
    assert challenger.ratio_low < 1.6 < challenger.ratio_high


def test_a_small_difference_is_not():
    control, challenger = compare.rate(100, 1000), compare.rate(110, 1000)
    compare.against(control, challenger, tests=1)
    assert not challenger.significant and challenger.better is None


def test_more_challengers_need_stronger_evidence():
    control = compare.rate(100, 1000)
    alone, crowded = compare.rate(130, 1000), compare.rate(130, 1000)
    compare.against(control, alone, tests=1)
    compare.against(control, crowded, tests=4)
    assert alone.p_value == crowded.p_value
    assert alone.significant and not crowded.significant  # p ~ 0.04 > 0.05 / 4
