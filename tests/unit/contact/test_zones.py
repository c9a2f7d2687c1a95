"""Every plausible zone of a debtor, and the cases the research measured (zones.md 6e)."""

from datetime import date, datetime

import pytest

from bot.contact import packs, rules, zones
from bot.contact.hours import hours_block

PACKS = packs.load_packs(None)
POLICY = rules.Policy.from_dict({"country": "*", "hours": {}})


def rule(country, day=date(2026, 12, 15)):
    return rules.combine(PACKS[country], POLICY, day, country=country)


def test_the_address_zone_joins_the_number_zones():
    us = rule("US")
    assert zones.plausible_zones("+14155550100", "America/New_York", us) == (
        "America/Los_Angeles",
        "America/New_York",
    )
    assert zones.plausible_zones("+14155550100", None, us) == ("America/Los_Angeles",)


@pytest.mark.parametrize("phone", ["+18005550100", "+17295550100x", ""])
def test_a_number_that_says_nothing_stands_for_the_country(phone):
    us = rule("US")
    found = zones.plausible_zones(phone, None, us)
    assert found in (tuple(sorted(us.zones)), ("America/Chicago", "America/New_York"))
    assert len(found) < 10  # never phonenumbers' 42 NANP zones


def allowed(country, phone, moment, address=None):
    r = rule(country, moment.date())
    return hours_block(r, zones.plausible_zones(phone, address, r), moment) is None


@pytest.mark.parametrize(
    "country, phone, moment, expected",
    [
        # Chihuahua 614 is UTC-6 since 2022 (the data said Mazatlán, UTC-7); CONDUSEF's
        # 07:00-22:00 with the default PROFECO weekdays. Tuesday 15 December 2026:
        ("MX", "+526141234567", datetime(2026, 12, 16, 4, 30), False),  # 22:30 Chihuahua
        ("MX", "+526141234567", datetime(2026, 12, 16, 3, 30), True),  # 21:30 / 20:30 Juárez
        # Matamoros 868 keeps US DST: 22:30 there in July while Mexico City says 21:30.
        ("MX", "+528681234567", datetime(2026, 7, 15, 3, 30), False),
        # 850 spans New York and Chicago: 20:30 Eastern passes, 08:30 Eastern does not.
        ("US", "+18505550100", datetime(2026, 12, 2, 1, 30), True),
        ("US", "+18505550100", datetime(2026, 12, 1, 13, 30), False),
        # A Chilean mobile may be in Punta Arenas (UTC-3 all year) in July.
        ("CL", "+56987654321", datetime(2026, 7, 15, 12, 30), True),  # 08:30 Santiago
        ("CL", "+56987654321", datetime(2026, 7, 15, 23, 30), False),  # 20:30 Punta Arenas
    ],
)
def test_measured_cases(country, phone, moment, expected):
    assert allowed(country, phone, moment) is expected


def test_the_issue_cases_with_an_address_elsewhere():
    # 415 number, New York address, 05:14 Pacific.
    assert not allowed("US", "+14155550100", datetime(2026, 12, 1, 13, 14), "America/New_York")
    # Tijuana number, Mexico City address, 05:08 in Tijuana.
    assert not allowed("MX", "+526641234567", datetime(2026, 12, 1, 13, 8), "America/Mexico_City")


def test_the_time_zone_data_is_recent_enough():
    zones.check_tzdata()  # raises TzdataError on data older than the packs assume
