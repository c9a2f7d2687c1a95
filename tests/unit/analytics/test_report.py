"""Each metric of the dashboard on the hand-built March history (see conftest.py)."""

from datetime import date
from decimal import Decimal

import pytest

from bot.analytics import report
from bot.analytics.query import Filters
from bot.analytics.report import Money, Pct
from bot.models import MessagePrice


def march_filters(**dims):
    return Filters(date(2026, 3, 1), date(2026, 3, 31), dims)


def rows(section):
    return {row[0]: row[1:] for row in section.rows}


def test_the_funnel_counts_each_contact_once_per_stage(mdb, march):
    got = rows(report.funnel(mdb, march_filters()))
    counts = {stage: values[0] for stage, values in got.items()}
    assert counts == {
        "contacted": 3,
        "delivered": 2,  # A's two (delivered, read); B's SMS only reached "sent"
        "read": 1,
        "replied": 1,
        "verified": 1,
        "outcome": 2,  # A's first (promise, payment) and second (payment) contacts
        "promised": 1,
        "paid": 2,
        "opted_out": 1,  # B, the day after its SMS
    }
    assert got["replied"][1] == Pct(1 / 3)


def test_a_debtor_in_two_segments_counts_in_each_for_its_time_there(mdb, march):
    default = rows(report.funnel(mdb, march_filters(segment="default")))
    late = rows(report.funnel(mdb, march_filters(segment="late")))
    assert default["contacted"][0] == 2 and late["contacted"][0] == 1
    assert default["paid"][0] == 1 and late["paid"][0] == 1
    both = rows(report.outcomes(mdb, march_filters()))
    only_late = rows(report.outcomes(mdb, march_filters(segment="late")))
    assert both["resolved_self_service"][0] == 4  # A's promise, A's two payments, C's payment
    assert only_late["resolved_self_service"][0] == 1  # A's second payment


def test_recovery_by_cohort_counts_partial_payments_and_never_a_reversed_one(mdb, march):
    got = {(row[0], row[1]): row[2:] for row in report.recovery(mdb, march_filters()).rows}
    due, placed, collected, rate = got["2026-03", "COP"]
    assert (due, placed, collected) == (
        Money(150_000, "COP"),
        Money(0, "COP"),
        Money(100_000, "COP"),  # 40,000 + 60,000; the reversed 10,000 is not money received
    )
    assert rate == Pct(100_000 / 150_000)
    # C overpaid: the surplus is kept for a refund, not counted as recovered.
    assert got["2026-01", "COP"][2] == Money(200_000, "COP")
    assert got["2026-01", "COP"][3] == Pct(1.0)


def test_recovery_of_a_later_period_starts_from_what_was_still_due(mdb, march):
    april = Filters(date(2026, 4, 1), date(2026, 4, 30), {})
    got = {(row[0], row[1]): row[2:] for row in report.recovery(mdb, april).rows}
    assert got["2026-03", "COP"][0] == Money(50_000, "COP")  # only B still owes
    assert got["2026-03", "COP"][3] == Pct(0.0)


def test_promise_kept_rate_and_self_service(mdb, march):
    got = rows(report.outcomes(mdb, march_filters()))
    assert got["promises_made"][0] == 2
    assert got["promises_kept"] == [1, Pct(0.5)]
    assert got["promises_broken"] == [1, Pct(0.5)]
    assert got["resolved_self_service"] == [4, Pct(0.8)]
    assert got["resolved_with_agent"] == [1, Pct(0.2)]  # the promise C made to an agent
    assert got["opt_outs"] == [1, Pct(1 / 3)]


def test_cure_and_roll_rates_between_buckets(mdb, march):
    got = rows(report.rolls(mdb, march_filters()))
    # A and B fell past due on 2 March: A was paid within 30 days (cured), B rolled on.
    assert got["1-30"] == [2, 2, 1, 1, Pct(0.5), Pct(0.5)]
    assert got["31-60"][0] == 0
    # B reached 31-60 on 1 April (31 days past due); its 30 days have not passed yet.
    april = rows(report.rolls(mdb, Filters(date(2026, 4, 1), date(2026, 4, 30), {})))
    assert april["31-60"] == [1, 0, 0, 0, Pct(None), Pct(None)]
    # C paid on 10 March, before reaching 61-90 on 16 March.
    assert got["61-90"][0] == 0


def test_opt_out_rate_per_template(mdb, march):
    got = rows(report.templates(mdb, march_filters()))
    assert got["reminder.overdue.friendly"][0] == 2
    assert got["reminder.overdue.friendly"][4] == Pct(0.5)
    assert got["reminder.overdue.firm"][4] == Pct(0.0)


def test_a_template_filter_narrows_the_funnel(mdb, march):
    got = rows(report.funnel(mdb, march_filters(template_key="reminder.overdue.firm")))
    assert got["contacted"][0] == 1 and got["read"][0] == 1


def test_agent_workload_and_handling_time(mdb, march):
    section = report.agents(mdb, march_filters(), {1: "ana@example.com"})
    assert section.rows == [["ana@example.com", 1, 1, 0, report.Seconds(1800)]]
    assert rows(report.escalations(mdb, march_filters())) == {"asked": [1]}


def test_cost_per_unit_recovered_from_the_admins_prices(mdb, march):
    mdb.add(MessagePrice(channel="whatsapp", currency="COP", price=Decimal("50.5"), updated_by="t"))
    mdb.add(MessagePrice(channel="sms", currency="COP", price=Decimal("100"), updated_by="t"))
    mdb.flush()
    section = report.cost(mdb, march_filters())
    mdb.rollback()
    total = [row for row in section.rows if row[0] == "*"][0]
    # 2 WhatsApp messages x 50.5 + 1 SMS x 100 = 201 COP for 3,000.00 COP collected.
    assert total[4] == report.Exact(Decimal("201.0"), "COP")
    assert total[5] == Money(300_000, "COP")
    assert total[6] == report.Exact(Decimal("0.067000"), "COP")


@pytest.mark.parametrize("dims", [{"country": "MX"}, {"channel": "email"}])
def test_filters_with_nothing_behind_them_give_zeros_not_errors(mdb, march, dims):
    got = rows(report.funnel(mdb, march_filters(**dims)))
    assert got["contacted"][0] == 0 and got["replied"][1] == Pct(None)


@pytest.mark.parametrize(
    "dims",
    [
        {"segment": "late"},
        {"template_key": "reminder.overdue.firm"},
        {"channel": "sms"},
        {"variant_id": 1},
    ],
)
def test_recovery_is_not_split_by_what_the_amounts_due_do_not_carry(mdb, march, dims):
    """Due and placed belong to no reminder: collections of one segment, channel, template or
    variant are never divided by the whole portfolio's debt; the section says it ignores them."""
    whole = report.recovery(mdb, march_filters())
    section = report.recovery(mdb, march_filters(**dims))
    assert section.rows == whole.rows
    assert section.ignored == list(dims)
    sections = {"recovery": section, "cost": report.cost(mdb, march_filters(**dims))}
    cards = dict(report.headline({**_headline_base(mdb), **sections}))
    # 100,000 of the March cohort's 150,000 and all of January's 200,000, whatever the filter.
    assert cards["recovery_rate:COP"] == Pct(300_000 / 350_000)


def test_recovery_still_splits_by_country_and_portfolio(mdb, march):
    section = report.recovery(mdb, march_filters(country="MX", portfolio="default"))
    assert section.rows == [] and section.ignored == []


def test_cost_per_unit_reads_messages_and_collections_with_the_same_filters(mdb, march):
    mdb.add(MessagePrice(channel="whatsapp", currency="COP", price=Decimal("50.5"), updated_by="t"))
    mdb.add(MessagePrice(channel="sms", currency="COP", price=Decimal("100"), updated_by="t"))
    mdb.flush()
    by_segment = report.cost(mdb, march_filters(segment="late"))
    by_channel = report.cost(mdb, march_filters(channel="whatsapp"))
    whole = report.cost(mdb, march_filters())
    mdb.rollback()
    # Messages sent carry no segment: neither side is split by it, and the page says so.
    assert by_segment.rows == whole.rows and by_segment.ignored == ["segment"]
    # Both sides carry the channel: WhatsApp's 2 x 50.5 against what followed WhatsApp.
    total = [row for row in by_channel.rows if row[0] == "*"][0]
    assert by_channel.ignored == []
    assert total[4] == report.Exact(Decimal("101.0"), "COP")
    assert total[5] == Money(100_000, "COP")  # A's 40,000 and 60,000, each after a WhatsApp
    assert total[6] == report.Exact(Decimal("0.101000"), "COP")


def _headline_base(mdb):
    filters = march_filters()
    return {
        "funnel": report.funnel(mdb, filters),
        "outcomes": report.outcomes(mdb, filters),
        "rolls": report.rolls(mdb, filters),
    }
