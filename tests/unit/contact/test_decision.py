"""The contact gate with a frozen clock: every decision takes `now` explicitly."""

from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest

from bot.contact import hours, rules
from bot.contact.decision import decide
from bot.reminders import gate

RULES = {r["country"]: rules.Rule.from_dict(r) for r in rules.DEFAULT_RULES}
FAR = datetime(2030, 1, 1)


def ctx(conversations=(), contacts=(), sids=None, rules=None):
    context = gate.Context(rules=rules or RULES, content_sids=sids or {})
    context.conversations = {1: list(conversations)}
    context.contacts = {1: list(contacts)}
    return context


def item(**overrides):
    base = {
        "debtor_id": 1,
        "phone": "+573001234567",
        "country": "CO",
        "timezone": None,
        "opted_out_whatsapp_at": None,
        "opted_out_sms_at": None,
        "wrong_number_at": None,
        "account_status": "open",
        "template_key": "reminder.due.friendly",
        "step": "due:0",
        "expires_at": FAR,
    }
    return SimpleNamespace(**(base | overrides))


def convo(channel="whatsapp", state="bot", last_inbound_at=None):
    return SimpleNamespace(channel=channel, state=state, last_inbound_at=last_inbound_at)


def utc(text):
    return datetime.fromisoformat(text)


# Bogotá is UTC-5 all year. 2026-11-23 is a Monday; 2026-12-08 (Tuesday) is a public holiday.
@pytest.mark.parametrize(
    "now, action, reason, next_at",
    [
        ("2026-11-23 11:59", "defer", "outside_hours", "2026-11-23 12:00"),  # 06:59 local
        ("2026-11-23 12:00", "send", None, None),  # 07:00 local, the first allowed minute
        ("2026-11-23 23:59", "send", None, None),  # 18:59 local
        ("2026-11-24 00:00", "defer", "outside_hours", "2026-11-24 12:00"),  # 19:00 local
        ("2026-11-28 19:59", "send", None, None),  # Saturday 14:59 local
        ("2026-11-28 20:00", "defer", "outside_hours", "2026-11-30 12:00"),  # Sat 15:00 -> Mon
        ("2026-11-29 15:00", "defer", "closed_day", "2026-11-30 12:00"),  # Sunday
        ("2026-12-08 15:00", "defer", "holiday", "2026-12-09 12:00"),  # holiday -> next day
    ],
)
def test_colombian_hours_sundays_and_holidays(now, action, reason, next_at):
    decision = gate.check(ctx(), item(), utc(now))
    assert (decision.action, decision.reason) == (action, reason)
    assert decision.next_at == (utc(next_at) if next_at else None)


def test_a_number_in_two_zones_must_be_allowed_in_both():
    # +1 208 is Boise (UTC-7 in November) and Los Angeles (UTC-8); US hours are 08:00-21:00.
    debtor = item(phone="+12085550100", country="US")
    assert hours.zones_for(debtor.phone, None, RULES["US"]) == (
        "America/Boise",
        "America/Los_Angeles",
    )
    early = gate.check(ctx(), debtor, utc("2026-11-23 15:00"))  # 08:00 Boise, 07:00 LA
    assert (early.action, early.next_at) == ("defer", utc("2026-11-23 16:00"))
    assert gate.check(ctx(), debtor, utc("2026-11-24 03:59")).action == "send"  # 20:59 Boise
    late = gate.check(ctx(), debtor, utc("2026-11-24 04:00"))  # 21:00 Boise, 20:00 LA
    assert (late.action, late.next_at) == ("defer", utc("2026-11-24 16:00"))


def test_a_stored_time_zone_wins_over_the_number():
    debtor = item(phone="+12085550100", country="US", timezone="America/New_York")
    assert gate.check(ctx(), debtor, utc("2026-11-23 13:00")).action == "send"  # 08:00 NY


def test_daylight_saving_change_moves_the_utc_opening():
    # New York leaves DST on 2026-11-01: 08:00 local is 12:00 UTC before, 13:00 UTC after.
    debtor = item(phone="+18505550100", country="US")
    assert gate.check(ctx(), debtor, utc("2026-10-31 12:00")).action == "send"
    decision = gate.check(ctx(), debtor, utc("2026-11-01 12:30"))
    assert (decision.action, decision.next_at) == ("defer", utc("2026-11-01 13:00"))


def test_daily_cap_defers_to_the_next_allowed_morning():
    now = utc("2026-11-24 15:00")  # Tuesday 10:00 Bogotá
    decision = gate.check(ctx(contacts=[now - timedelta(hours=2)]), item(), now)
    assert (decision.action, decision.reason) == ("defer", "cap_day")
    assert decision.next_at == utc("2026-11-25 12:00")  # Wednesday 07:00


def test_weekly_cap_defers_until_the_oldest_contact_is_seven_days_old():
    now = utc("2026-11-24 15:00")
    contacts = [utc("2026-11-19 15:00"), utc("2026-11-21 15:00")]  # CO allows 2 a week
    decision = gate.check(ctx(contacts=contacts), item(), now)
    assert (decision.action, decision.reason) == ("defer", "cap_week")
    assert decision.next_at == utc("2026-11-26 15:00:01")


def test_chile_needs_two_days_between_contacts():
    debtor = item(phone="+56987654321", country="CL")
    now = utc("2026-11-24 15:00")  # 12:00 Santiago (UTC-3)
    decision = gate.check(ctx(contacts=[now - timedelta(days=1)]), debtor, now)
    assert (decision.action, decision.reason) == ("defer", "min_gap")
    assert decision.next_at == now + timedelta(days=1)
    assert gate.check(ctx(contacts=[now - timedelta(days=2)]), debtor, now).action == "send"


def test_contacts_older_than_a_week_do_not_count():
    now = utc("2026-11-24 15:00")
    old = [now - timedelta(days=8), now - timedelta(days=9), now - timedelta(days=10)]
    assert gate.check(ctx(contacts=old), item(), now).action == "send"


NOW = utc("2026-11-24 15:00")


@pytest.mark.parametrize(
    "conversations, sids, overrides, channel, content_sid, reason",
    [
        # inside the 24-hour window: free text on WhatsApp
        ([convo(last_inbound_at=NOW - timedelta(hours=23))], {}, {}, "whatsapp", None, None),
        # outside it with an approved template
        (
            [convo(last_inbound_at=NOW - timedelta(hours=25))],
            {"reminder.due.friendly": "HX" + "1" * 32},
            {},
            "whatsapp",
            "HX" + "1" * 32,
            None,
        ),
        # outside it, no template: SMS
        ([convo(last_inbound_at=NOW - timedelta(hours=25))], {}, {}, "sms", None, None),
        # no template and no SMS either: suppressed
        ([], {}, {"opted_out_sms_at": NOW}, None, None, "no_approved_template"),
        # WhatsApp opt-out: SMS
        ([], {}, {"opted_out_whatsapp_at": NOW}, "sms", None, None),
        ([], {}, {"opted_out_whatsapp_at": NOW, "opted_out_sms_at": NOW}, None, None, "opted_out"),
    ],
)
def test_whatsapp_window_templates_and_channels(
    conversations, sids, overrides, channel, content_sid, reason
):
    decision = gate.check(ctx(conversations, sids=sids), item(**overrides), NOW)
    assert decision.channel == channel
    assert decision.content_sid == content_sid
    assert decision.reason == reason
    assert decision.action == ("send" if channel else "suppress")


def test_no_sms_fallback_when_the_country_rule_forbids_it():
    table = dict(RULES, CO=rules.Rule.from_dict(rules.DEFAULT_RULES[0] | {"sms_fallback": False}))
    decision = gate.check(ctx(rules=table), item(), NOW)
    assert (decision.action, decision.reason) == ("suppress", "no_approved_template")


@pytest.mark.parametrize(
    "overrides, conversations, reason",
    [
        ({"wrong_number_at": NOW}, [], "wrong_number"),
        ({"account_status": "disputed"}, [], "disputed"),
        ({"account_status": "claim_review"}, [], "claim_review"),
        ({"account_status": "paid"}, [], "account_closed"),
        ({}, [convo(state="agent")], "agent_held"),
        ({}, [convo(channel="sms", state="agent")], "agent_held"),
    ],
)
def test_rules_suppress(overrides, conversations, reason):
    decision = gate.check(ctx(conversations), item(**overrides), NOW)
    assert (decision.action, decision.reason) == ("suppress", reason)


NIGHT = utc("2026-11-25 08:00")  # 03:00 in Bogotá: only reminders wait for the morning


@pytest.mark.parametrize(
    "purpose, overrides, conversations, action, reason",
    [
        # A receipt for the debtor's own payment: at once, whatever the hour or the account.
        ("receipt", {"account_status": "paid"}, [], "send", None),
        ("receipt", {"wrong_number_at": NOW}, [], "suppress", "wrong_number"),
        ("receipt", {}, [convo(state="agent", last_inbound_at=NOW)], "suppress", "agent_held"),
        ("receipt", {"opted_out_whatsapp_at": NOW}, [], "suppress", "opted_out_whatsapp"),
        # Something the debtor asked for: even while an agent holds the conversation.
        ("requested", {}, [convo(state="agent", last_inbound_at=NOW)], "send", None),
        ("requested", {"opted_out_whatsapp_at": NOW}, [], "suppress", "opted_out_whatsapp"),
        # An agent's own message: only WhatsApp's window limits it.
        ("agent", {"opted_out_whatsapp_at": NOW}, [], "send", None),
        (
            "agent",
            {},
            [convo(last_inbound_at=NIGHT - timedelta(hours=25))],
            "suppress",
            "no_approved_template",
        ),
    ],
)
def test_each_purpose_respects_its_own_rules(purpose, overrides, conversations, action, reason):
    context = ctx(conversations or [convo(last_inbound_at=NIGHT - timedelta(hours=1))])
    row = item(**overrides)
    decision = decide(
        context, context.facts(row), NIGHT, purpose, ("whatsapp",), "x", row.account_status
    )
    assert (decision.action, decision.reason) == (action, reason)


def test_a_deferral_past_the_expiry_is_suppressed():
    late = item(expires_at=utc("2026-11-24 01:00"))
    decision = gate.check(ctx(), late, utc("2026-11-24 00:30"))  # 19:30 Bogotá
    assert (decision.action, decision.reason) == ("suppress", "expired:outside_hours")


def test_rules_are_read_from_the_table(db):
    table = rules.load_rules(db)
    assert set(table) >= {"CO", "CL", "MX", "US", "*"}
    assert table["CO"].skip_holidays and 6 not in table["CO"].hours  # never on Sundays
    assert table["CL"].min_gap_hours == 48


@pytest.mark.parametrize(
    "bad",
    [
        {"hours": {"mon": ["19:00", "07:00"]}},
        {"hours": {"xyz": ["07:00", "08:00"]}},
        {"max_per_day": -1},
    ],
)
def test_bad_rules_are_refused(bad):
    with pytest.raises(rules.RuleError):
        rules.Rule.from_dict({"country": "CO", "hours": {}} | bad)
