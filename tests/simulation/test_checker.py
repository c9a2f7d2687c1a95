"""The law checker catches what it must: each rule broken once, on purpose."""

from datetime import datetime

import pytest

from tests.simulation import checker, world

PEOPLE = world.debtors(count=60)  # four of each profile
# A Colombian who authorised both channels; then one of each other profile.
CO = next(i for i in (0, 1, 15, 16, 30, 31, 45, 46) if len(PEOPLE[i].consent) == 2)
MX_CHIHUAHUA, CL, PE, US_850, US_MA = 3, 6, 7, 10, 13


def judge(messages, timeline=None):
    found = checker.Checker(PEOPLE, timeline or {}).check(sorted(messages, key=lambda m: m[1]))
    return {v[0] for v in found}


def msg(who, at, channel="sms", body="Hola, Reply STOP", free_text=False):
    return (who, datetime.fromisoformat(at), channel, body, free_text)


@pytest.mark.parametrize(
    "message, rule",
    [
        (msg(PE, "2026-12-05 15:00"), "closed_day"),  # a Saturday in Lima
        (msg(PE, "2026-12-09 15:00"), "holiday"),  # Batalla de Ayacucho
        (msg(CO, "2026-12-01 11:30"), "hours"),  # 06:30 in Bogotá
        (msg(MX_CHIHUAHUA, "2026-12-02 04:30"), "hours"),  # 22:30 in Chihuahua
        (msg(US_850, "2026-12-01 13:30", body="Hi"), "opt_out_line"),
        (msg(US_850, "2026-12-01 13:30", body="Hi STOP"), "hours"),  # 07:30 in Chicago
        (msg(CO, "2026-12-01 15:00", "whatsapp", free_text=True), "whatsapp_window"),
    ],
)
def test_each_rule_is_caught(message, rule):
    assert rule in judge([message])


def test_frequency_rules_are_caught():
    assert "per_day" in judge([msg(CO, "2026-12-01 15:00"), msg(CO, "2026-12-01 20:00")])
    assert "channels_per_week" in judge(
        [msg(CO, "2026-12-01 15:00", "whatsapp"), msg(CO, "2026-12-03 15:00", "sms")]
    )
    assert "min_gap" in judge([msg(CL, "2026-12-01 15:00"), msg(CL, "2026-12-02 15:00")])
    three = [msg(CL, f"2026-12-0{d} 15:00") for d in (1, 3, 5)]
    assert "per_week" in judge(three)
    ma = [msg(US_MA, f"2026-12-0{d} 15:00") for d in (1, 2, 3)]
    assert "per_week" in judge(ma)


def test_what_the_debtor_said_is_held_against_later_messages():
    said = {CO: [(datetime(2026, 12, 1, 12), "opt_out", {"channel": "sms"})]}
    assert "after_opt_out" in judge([msg(CO, "2026-12-02 15:00")], said)
    assert "after_opt_out" not in judge([msg(CO, "2026-12-02 15:00", "whatsapp")], said)
    secret = PEOPLE[CO].external_id
    assert "disclosure" in judge([msg(CO, "2026-12-02 15:00", body=f"ref {secret}")])
    verified = {CO: [(datetime(2026, 12, 1, 12), "write_in", {"verify": True})]}
    assert "disclosure" not in judge([msg(CO, "2026-12-02 15:00", body=f"ref {secret}")], verified)
    held = {CO: [(datetime(2026, 12, 1, 12), "agent_claim", {})]}
    assert "agent_held" in judge([msg(CO, "2026-12-02 15:00")], held)


def test_a_lawful_message_passes():
    assert judge([msg(CO, "2026-12-01 15:00")]) == set()
