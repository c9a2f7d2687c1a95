"""The contact decision with a frozen clock: every decision takes `now` explicitly."""

from datetime import date, datetime, timedelta
from types import SimpleNamespace

import pytest

from bot.contact import packs, rules
from bot.contact.decision import AGENT_RECHECK, DISCREET, DISCREET_LOCKED, decide
from bot.reminders import gate

POLICIES = {p["country"]: rules.Policy.from_dict(p) for p in rules.DEFAULT_POLICIES}
FAR = datetime(2030, 1, 1)
BOTH = frozenset({"whatsapp", "sms"})


def table(policies=None, day=date(2026, 11, 24)):
    return rules.Rules(packs.load_packs(None), policies or POLICIES, day)


def ctx(conversations=None, contacts=(), sids=None, policies=None, consents=BOTH):
    context = gate.Context(rules=table(policies), content_sids=sids or {})
    context.conversations = {1: list(conversations if conversations is not None else [convo()])}
    context.contacts = {
        # A bare moment is an SMS contact (no WhatsApp window in these tests).
        1: [c if isinstance(c, tuple) else (c, "sms") for c in contacts],
    }
    context.consents = {1: consents}
    return context


def item(**overrides):
    base = {
        "debtor_id": 1,
        "phone": "+573001234567",
        "country": "CO",
        "region": None,
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


def convo(channel="sms", state="bot", last_inbound_at=None, verified=True, locked_at=None, **kw):
    """A conversation on the debtor's number; verified a month ago unless said otherwise."""
    return SimpleNamespace(
        channel=channel,
        state=state,
        last_inbound_at=last_inbound_at,
        address=kw.get("address", "+573001234567"),
        verified_at=datetime(2026, 10, 1) if verified else None,
        locked_at=locked_at,
    )


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
    if reason:
        assert decision.rule.startswith("law:co.hours")  # the provision behind the reason
    assert decision.pack == "CO@2026.12"


# Lima is UTC-5. Peru: Monday to Friday 07:00-20:00, no feriados (Código art. 62 b).
@pytest.mark.parametrize(
    "now, action, reason",
    [
        ("2026-12-01 12:00", "send", None),  # Tuesday 07:00
        ("2026-12-02 00:59", "send", None),  # Tuesday 19:59
        ("2026-12-02 01:00", "defer", "outside_hours"),  # Tuesday 20:00
        ("2026-12-05 15:00", "defer", "closed_day"),  # Saturday
        ("2026-12-06 15:00", "defer", "closed_day"),  # Sunday
        ("2026-12-08 15:00", "defer", "holiday"),  # Inmaculada Concepción
        ("2026-12-09 15:00", "defer", "holiday"),  # Batalla de Ayacucho
    ],
)
def test_peru_sends_on_working_days_only(now, action, reason):
    debtor = item(phone="+51987654321", country="PE")
    decision = gate.check(ctx(), debtor, utc(now))
    assert (decision.action, decision.reason) == (action, reason)


def test_chile_skips_its_holidays_now():
    debtor = item(phone="+56987654321", country="CL")
    decision = gate.check(ctx(), debtor, utc("2026-12-08 15:00"))  # Tuesday, a feriado
    assert (decision.action, decision.reason) == ("defer", "holiday")
    assert decision.rule == "law:cl.days_and_hours"


def test_a_number_in_two_zones_must_be_allowed_in_both():
    # +1 208 is Boise (UTC-7 in November) and Los Angeles (UTC-8); US hours are 08:00-21:00.
    debtor = item(phone="+12085550100", country="US")
    early = gate.check(ctx(), debtor, utc("2026-11-23 15:00"))  # 08:00 Boise, 07:00 LA
    assert (early.action, early.next_at) == ("defer", utc("2026-11-23 16:00"))
    assert early.zones == ("America/Boise", "America/Los_Angeles")
    assert gate.check(ctx(), debtor, utc("2026-11-24 03:59")).action == "send"  # 20:59 Boise
    late = gate.check(ctx(), debtor, utc("2026-11-24 04:00"))  # 21:00 Boise, 20:00 LA
    assert (late.action, late.next_at) == ("defer", utc("2026-11-24 16:00"))


def test_the_address_zone_adds_to_the_number_zones_instead_of_replacing_them():
    # A 415 (Los Angeles) number with a New York address: 05:14 Pacific is 08:14 in New York.
    debtor = item(phone="+14155550100", country="US", timezone="America/New_York")
    decision = gate.check(ctx(), debtor, utc("2026-12-01 13:14"))
    assert (decision.action, decision.reason) == ("defer", "outside_hours")
    assert decision.next_at == utc("2026-12-01 16:00")  # 08:00 Pacific, 11:00 Eastern
    assert gate.check(ctx(), debtor, utc("2026-12-02 01:59")).action == "send"  # 20:59 NY
    assert gate.check(ctx(), debtor, utc("2026-12-02 02:30")).action == "defer"  # 21:30 NY


def test_a_tijuana_number_with_a_mexico_city_address():
    # Winter: Tijuana UTC-8, Mexico City UTC-6; 05:08 in Tijuana is 07:08 in Mexico City.
    debtor = item(phone="+526641234567", country="MX", timezone="America/Mexico_City")
    assert gate.check(ctx(), debtor, utc("2026-12-01 13:08")).action == "defer"
    assert gate.check(ctx(), debtor, utc("2026-12-01 15:00")).action == "send"  # 07:00 TJ
    assert gate.check(ctx(), debtor, utc("2026-12-02 04:00")).action == "defer"  # 22:00 CDMX


def test_daylight_saving_change_moves_the_utc_opening():
    # New York leaves DST on 2026-11-01: 08:00 local is 12:00 UTC before, 13:00 UTC after.
    debtor = item(phone="+12125550100", country="US")
    assert gate.check(ctx(), debtor, utc("2026-10-31 12:00")).action == "send"
    decision = gate.check(ctx(), debtor, utc("2026-11-01 12:30"))
    assert (decision.action, decision.next_at) == ("defer", utc("2026-11-01 13:00"))


def test_daily_cap_defers_to_the_next_allowed_morning():
    now = utc("2026-11-24 15:00")  # Tuesday 10:00 Bogotá
    decision = gate.check(ctx(contacts=[now - timedelta(hours=2)]), item(), now)
    assert (decision.action, decision.reason) == ("defer", "cap_day")
    assert decision.next_at == utc("2026-11-25 12:00")  # Wednesday 07:00
    assert decision.rule == "law:co.frequency"


def test_the_day_cap_holds_in_every_zone():
    # 850 is Chicago and New York. A contact at 05:30 UTC on 1 December was on 1 December in
    # New York (00:30) but on 30 November in Chicago (23:30): at 15:00 UTC it is "today" in
    # one of the zones, so the day cap holds (counting in the first zone only would not).
    debtor = item(phone="+18505550100", country="US")
    now = utc("2026-12-01 15:00")
    decision = gate.check(ctx(contacts=[utc("2026-12-01 05:30")]), debtor, now)
    assert (decision.action, decision.reason) == ("defer", "cap_day")


def test_weekly_cap_defers_until_the_oldest_contact_is_seven_days_old():
    now = utc("2026-11-24 15:00")
    contacts = [utc("2026-11-19 15:00"), utc("2026-11-21 15:00")]  # CO policy: 2 a week
    decision = gate.check(ctx(contacts=contacts), item(), now)
    assert (decision.action, decision.reason) == ("defer", "cap_week")
    assert decision.next_at == utc("2026-11-26 15:00:01")
    assert decision.rule == "policy:CO"


def test_colombia_keeps_to_one_channel_a_week():
    now = utc("2026-11-24 15:00")
    # Last week's contact was by SMS: this one goes by SMS too, even though WhatsApp is first.
    decision = gate.check(ctx(contacts=[(utc("2026-11-20 15:00"), "sms")]), item(), now)
    assert (decision.action, decision.channel) == ("send", "sms")
    # SMS is stopped now: WhatsApp (its window open) waits until the SMS contact is a week old.
    stopped = item(opted_out_sms_at=now)
    chat = [convo("whatsapp", last_inbound_at=now - timedelta(hours=1))]
    decision = gate.check(ctx(chat, contacts=[(utc("2026-11-20 15:00"), "sms")]), stopped, now)
    assert (decision.action, decision.reason) == ("defer", "channel_week")
    assert decision.next_at >= utc("2026-11-27 15:00")


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


def test_colombia_uses_only_consented_channels():
    now = utc("2026-11-24 15:00")
    only_sms = gate.check(ctx(consents=frozenset({"sms"})), item(), now)
    assert (only_sms.action, only_sms.channel) == ("send", "sms")
    none = gate.check(ctx(consents=frozenset()), item(), now)
    assert (none.action, none.reason) == ("suppress", "no_consent")
    assert none.rule == "law:co.channels_authorised"
    # Mexico's law does not ask for it.
    mx = gate.check(ctx(consents=frozenset()), item(phone="+525512345678", country="MX"), now)
    assert mx.action == "send"


NOW = utc("2026-11-24 15:00")


@pytest.mark.parametrize(
    "conversations, sids, overrides, channel, content_sid, reason",
    [
        # inside the 24-hour window: free text on WhatsApp
        (
            [convo("whatsapp", last_inbound_at=NOW - timedelta(hours=23))],
            {},
            {},
            "whatsapp",
            None,
            None,
        ),
        # outside it with an approved template
        (
            [convo("whatsapp", last_inbound_at=NOW - timedelta(hours=25))],
            {"reminder.due.friendly": "HX" + "1" * 32},
            {},
            "whatsapp",
            "HX" + "1" * 32,
            None,
        ),
        # outside it, no template: SMS
        ([convo("whatsapp", last_inbound_at=NOW - timedelta(hours=25))], {}, {}, "sms", None, None),
        # no template and no SMS either: suppressed
        ([convo()], {}, {"opted_out_sms_at": NOW}, None, None, "no_approved_template"),
        # WhatsApp opt-out: SMS
        ([convo()], {}, {"opted_out_whatsapp_at": NOW}, "sms", None, None),
        (
            [convo()],
            {},
            {"opted_out_whatsapp_at": NOW, "opted_out_sms_at": NOW},
            None,
            None,
            "opted_out",
        ),
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


def test_no_sms_fallback_when_the_policy_forbids_it():
    policies = dict(
        POLICIES, CO=rules.Policy.from_dict(rules.DEFAULT_POLICIES[0] | {"sms_fallback": False})
    )
    decision = gate.check(ctx(policies=policies), item(), NOW)
    assert (decision.action, decision.reason) == ("suppress", "no_approved_template")


@pytest.mark.parametrize(
    "overrides, conversations, reason",
    [
        ({"wrong_number_at": NOW}, [convo()], "wrong_number"),
        ({"account_status": "disputed"}, [convo()], "disputed"),
        ({"account_status": "claim_review"}, [convo()], "claim_review"),
        ({"account_status": "paid"}, [convo()], "account_closed"),
    ],
)
def test_rules_suppress(overrides, conversations, reason):
    decision = gate.check(ctx(conversations), item(**overrides), NOW)
    assert (decision.action, decision.reason) == ("suppress", reason)


@pytest.mark.parametrize("channel", ["whatsapp", "sms"])
def test_an_agent_holding_the_conversation_defers_the_reminder_without_expiry(channel):
    expiring = item(expires_at=NOW + timedelta(minutes=5))
    decision = gate.check(ctx([convo(channel, state="agent")]), expiring, NOW)
    assert (decision.action, decision.reason) == ("defer", "agent_held")
    assert decision.next_at == NOW + AGENT_RECHECK  # never "expired" while it waits


def test_until_the_right_party_is_confirmed_the_reminder_is_discreet():
    unverified = ctx([convo(verified=False)])
    assert gate.check(unverified, item(), NOW).template_key == DISCREET
    assert gate.check(ctx(), item(), NOW).template_key == "reminder.due.friendly"
    # Verified on an old number the debtor no longer has: not this number.
    moved = ctx([convo(address="+573009999999")])
    assert gate.check(moved, item(), NOW).template_key == DISCREET
    # A lock after the last verification: discreet again, in its own words.
    locked = ctx([convo(locked_at=datetime(2026, 11, 1))])
    assert gate.check(locked, item(), NOW).template_key == DISCREET_LOCKED
    # The approved template of the discreet text is what goes outside the window.
    sids = {DISCREET: "HX" + "2" * 32}
    decision = gate.check(ctx([convo(verified=False)], sids=sids), item(), NOW)
    assert (decision.channel, decision.content_sid) == ("whatsapp", "HX" + "2" * 32)


def test_us_messages_need_opt_out_instructions():
    assert gate.check(ctx(), item(phone="+12125550100", country="US"), NOW).opt_out_line
    assert not gate.check(ctx(), item(), NOW).opt_out_line


def test_massachusetts_allows_two_a_week():
    debtor = item(phone="+16175550100", country="US", region="MA")
    contacts = [utc("2026-11-20 15:00"), utc("2026-11-22 15:00")]
    decision = gate.check(ctx(contacts=contacts), debtor, NOW)
    assert (decision.action, decision.reason) == ("defer", "cap_week")
    assert decision.rule == "law:us.ma_two_per_week"
    # Elsewhere in the US the creditor's policy (7 a week in the seed) applies.
    assert (
        gate.check(ctx(contacts=contacts), item(phone="+16175550100", country="US"), NOW).action
        == "send"
    )


NIGHT = utc("2026-11-25 08:00")  # 03:00 in Bogotá: only reminders wait for the morning


@pytest.mark.parametrize(
    "purpose, overrides, conversations, action, reason",
    [
        # A receipt for the debtor's own payment: at once, whatever the hour or the account.
        ("receipt", {"account_status": "paid"}, [], "send", None),
        ("receipt", {"wrong_number_at": NOW}, [], "suppress", "wrong_number"),
        (
            "receipt",
            {},
            [convo("whatsapp", state="agent", last_inbound_at=NOW)],
            "suppress",
            "agent_held",
        ),
        ("receipt", {"opted_out_whatsapp_at": NOW}, [], "suppress", "opted_out_whatsapp"),
        # Something the debtor asked for: even while an agent holds the conversation.
        ("requested", {}, [convo("whatsapp", state="agent", last_inbound_at=NOW)], "send", None),
        ("requested", {"opted_out_whatsapp_at": NOW}, [], "suppress", "opted_out_whatsapp"),
        # An agent's own message: only WhatsApp's window limits it.
        ("agent", {"opted_out_whatsapp_at": NOW}, [], "send", None),
        (
            "agent",
            {},
            [convo("whatsapp", last_inbound_at=NIGHT - timedelta(hours=25))],
            "suppress",
            "no_approved_template",
        ),
    ],
)
def test_each_purpose_respects_its_own_rules(purpose, overrides, conversations, action, reason):
    context = ctx(conversations or [convo("whatsapp", last_inbound_at=NIGHT - timedelta(hours=1))])
    row = item(**overrides)
    decision = decide(
        context, context.facts(row), NIGHT, purpose, ("whatsapp",), "x", row.account_status
    )
    assert (decision.action, decision.reason) == (action, reason)


def test_a_deferral_past_the_expiry_is_suppressed():
    late = item(expires_at=utc("2026-11-24 01:00"))
    decision = gate.check(ctx(), late, utc("2026-11-24 00:30"))  # 19:30 Bogotá
    assert (decision.action, decision.reason) == ("suppress", "expired:outside_hours")


def test_policies_are_read_from_the_table(db):
    table_ = rules.load_rules(db)
    assert set(table_.policies) >= {"CO", "CL", "MX", "US", "PE", "AR", "*"}
    co = table_.get("CO")
    assert co.skip_holidays and 6 not in co.hours  # never on Sundays
    assert table_.get("CL").min_gap_hours == 48


@pytest.mark.parametrize(
    "bad",
    [
        {"hours": {"mon": ["19:00", "07:00"]}},
        {"hours": {"xyz": ["07:00", "08:00"]}},
        {"max_per_day": -1},
        {"default_timezone": "Mars/Base"},
    ],
)
def test_bad_policies_are_refused(bad):
    with pytest.raises(rules.RuleError):
        rules.Policy.from_dict({"country": "CO", "hours": {}} | bad)


def test_email_has_its_own_opt_out():
    context = ctx()
    facts = context.facts(item())
    facts.opted_out_email_at = NOW
    decision = decide(context, facts, NOW, "requested", ("email",), "x")
    assert (decision.action, decision.reason) == ("suppress", "opted_out_email")
    facts.opted_out_email_at = None
    assert decide(context, facts, NOW, "requested", ("email",), "x").action == "send"


def test_after_a_stop_other_channels_wait_for_the_answer_to_the_question():
    asked = NOW - timedelta(hours=2)
    context = ctx()
    facts = context.facts(item(opted_out_whatsapp_at=asked))
    facts.scope_asked_at = asked
    decision = decide(context, facts, NOW, "reminder", ("whatsapp", "sms"), "reminder.due.friendly")
    assert (decision.action, decision.reason) == ("defer", "opt_out_scope_pending")
    assert decision.next_at == asked + timedelta(hours=24)
    facts.scope_answered_at = NOW - timedelta(hours=1)  # "only this channel"
    decision = decide(context, facts, NOW, "reminder", ("whatsapp", "sms"), "reminder.due.friendly")
    assert (decision.action, decision.channel) == ("send", "sms")
    facts.scope_answered_at = None
    later = asked + timedelta(hours=25)  # no answer in a day: the stop covers its channel only
    decision = decide(
        context, facts, later, "reminder", ("whatsapp", "sms"), "reminder.due.friendly"
    )
    assert decision.channel == "sms"
