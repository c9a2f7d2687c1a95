"""The rule a message follows: the stricter of the law (pack) and the creditor's policy."""

from datetime import date, time

import pytest

from bot.contact import packs, rules

PACKS = packs.load_packs(None)
DAY = date(2026, 12, 1)


def policy(**values):
    return rules.Policy.from_dict({"country": "CO", "hours": {}} | values)


def test_a_policy_narrows_the_hours_and_never_widens_them():
    rule = rules.combine(
        PACKS["CO"], policy(hours={"mon": ["06:00", "12:00"], "sun": ["09:00", "12:00"]}), DAY
    )
    assert rule.hours == {0: (time(7), time(12))}  # 06:00 and Sunday are not the law's
    assert rule.sources["hours"] == "law:co.hours, policy:CO"
    assert rules.combine(PACKS["CO"], policy(), DAY).hours[5] == (time(8), time(15))


def test_the_lower_cap_applies_and_says_where_it_comes_from():
    looser = rules.combine(PACKS["CO"], policy(max_per_day=5, max_per_week=9), DAY)
    assert (looser.max_per_day, looser.sources["max_per_day"]) == (1, "law:co.frequency")
    assert (looser.max_per_week, looser.sources["max_per_week"]) == (9, "policy:CO")
    stricter = rules.combine(PACKS["CL"], policy(max_per_week=1, min_gap_hours=72), DAY)
    assert (stricter.max_per_week, stricter.sources["max_per_week"]) == (1, "policy:CO")
    assert (stricter.min_gap_hours, stricter.sources["min_gap_hours"]) == (72, "policy:CO")
    gap = rules.combine(PACKS["CL"], policy(min_gap_hours=24), DAY)
    assert (gap.min_gap_hours, gap.sources["min_gap_hours"]) == (48, "law:cl.frequency")


def test_holidays_consent_and_sms_only_ever_get_stricter():
    us = rules.combine(
        PACKS["US"], policy(skip_holidays=True, require_consent=True), DAY, country="US"
    )
    assert us.skip_holidays and us.consent_required
    assert us.is_holiday(date(2026, 12, 25)) and not us.is_holiday(date(2026, 12, 24))
    co = rules.combine(PACKS["CO"], policy(skip_holidays=False, sms_fallback=False), DAY)
    assert co.skip_holidays and co.consent_required and not co.sms_fallback


def test_mexico_follows_the_regime_the_creditor_chooses():
    financial = rules.combine(PACKS["MX"], policy(regime="condusef_financial"), DAY, country="MX")
    assert 6 in financial.hours
    with pytest.raises(rules.RuleError, match="regime"):
        rules.combine(PACKS["MX"], policy(regime="casino"), DAY, country="MX")


def test_countries_without_a_pack_get_the_conservative_default():
    rule = rules.combine(PACKS["*"], policy(), DAY, country="BR")
    assert rule.pack == "*@2026.12" and 6 not in rule.hours and rule.opt_out_line_required
    assert rule.is_holiday(date(2026, 11, 20))  # Brazil's Consciência Negra, from the library


def test_rules_are_built_once_per_country_and_region():
    table = rules.Rules(PACKS, {"*": policy(country="*")}, DAY)
    assert table.get("US", "MA") is table.get("US", "MA")
    assert table.get("US", "MA").max_per_week == 2 and table.get("US").max_per_week is None
