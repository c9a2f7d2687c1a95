"""Country packs: the law as data, each setting backed by provisions with their sources."""

from datetime import date, time

import pytest
import yaml

from bot.contact import packs

BUILT_IN = packs.load_packs(None)


def test_every_country_of_the_issue_has_a_pack_and_the_rest_a_default():
    assert set(BUILT_IN) >= {"CO", "MX", "CL", "PE", "AR", "US", "*"}


@pytest.mark.parametrize("country", sorted(BUILT_IN))
def test_every_setting_names_provisions_that_exist_with_a_source(country):
    pack = BUILT_IN[country]
    assert pack.version and pack.rules
    for setting, ids in pack.implements.items():
        assert ids, setting
        for rule_id in ids:
            rule = pack.rule(rule_id)
            assert rule.law and rule.kind in packs.KINDS and rule.basis in packs.BASES
            # A provision known only from memory must be flagged for verification.
            assert rule.basis != "general_knowledge" or rule.verify or rule.kind != "legal_minimum"
    for rule in pack.rules:
        assert rule.sources or rule.verify or rule.basis != "primary", rule.id


def test_the_packs_read_the_law_as_the_research_found_it():
    day = date(2026, 12, 1)
    pe = BUILT_IN["PE"].legal(day)
    assert set(pe.hours) == {0, 1, 2, 3, 4} and pe.hours[0] == (time(7), time(20))
    assert pe.skip_holidays
    cl = BUILT_IN["CL"].legal(day)
    assert cl.skip_holidays and (cl.max_per_week, cl.min_gap_hours) == (2, 48)
    assert 6 not in cl.hours and cl.retention_years == 2
    co = BUILT_IN["CO"].legal(day)
    assert (co.max_per_day, co.max_channels_per_week, co.consent_required) == (1, 1, True)
    us = BUILT_IN["US"].legal(day)
    assert us.opt_out_line_required and us.subdivisions["MA"]["max_per_week"] == 2
    assert us.hours[6] == (time(8), time(21))


def test_a_provision_not_yet_in_force_is_not_applied():
    before = BUILT_IN["CO"].legal(date(2023, 10, 9))  # Ley 2300 took effect on 10 October 2023
    assert before.hours is None and before.max_per_day is None and not before.consent_required
    after = BUILT_IN["CO"].legal(date(2023, 10, 10))
    assert after.hours and after.consent_required
    assert after.sources["consent_required"] == "co.channels_authorised"


def test_mexico_has_two_regimes_and_defaults_to_the_stricter():
    day = date(2026, 12, 1)
    default = BUILT_IN["MX"].legal(day)
    assert set(default.hours) == {0, 1, 2, 3, 4} and default.skip_holidays
    financial = BUILT_IN["MX"].legal(day, "condusef_financial")
    assert set(financial.hours) == set(range(7)) and not financial.skip_holidays


GOOD = {
    "country": "BR",
    "name": "Brasil",
    "version": "1",
    "zones": ["America/Sao_Paulo"],
    "holidays": {"calendar": "BR", "subdivisions": "none"},
    "gate": {"hours": {"mon": ["08:00", "20:00"]}, "max_per_day": 1},
    "implements": {"hours": ["br.x"]},
    "rules": [
        {
            "id": "br.x",
            "law": "Lei",
            "effective": "2020-01-01",
            "kind": "legal_minimum",
            "basis": "secondary",
            "summary": "s",
            "sources": ["https://example.org"],
        }
    ],
}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"gate": {"hours": {"mon": ["20:00", "08:00"]}}}, "not before"),
        ({"gate": {"bedtime": True}}, "unknown gate setting"),
        ({"implements": {"hours": ["br.nope"]}}, "unknown rule"),
        ({"zones": ["Mars/Base"]}, "unknown time zone"),
        ({"gate": {"max_per_day": -1}}, "whole number"),
        ({"rules": [dict(GOOD["rules"][0], kind="folklore")]}, "kind must be"),
        ({"rules": [dict(GOOD["rules"][0], effective="soon")]}, "not a date"),
        ({"country": None}, "needs a country"),
    ],
)
def test_a_bad_pack_is_refused_with_the_reason(change, message):
    with pytest.raises(packs.PackError, match=message):
        packs.parse_pack(GOOD | change, "br.yml")


def test_packs_for_other_countries_come_from_configuration(tmp_path):
    (tmp_path / "BR.yml").write_text(yaml.safe_dump(GOOD), encoding="utf-8")
    loaded = packs.load_packs(str(tmp_path))
    assert loaded["BR"].name == "Brasil" and "CO" in loaded
    assert packs.pack_for(loaded, "BR").tag == "BR@1"
    assert packs.pack_for(loaded, "ZZ").country == "*"
    with pytest.raises(packs.PackError):
        packs.load_packs(str(tmp_path / "missing"))
