"""The dashboard's filters: what the page accepts, what it refuses with a reason."""

from datetime import date

import pytest

from bot.analytics import metrics
from bot.analytics.query import FilterError, Filters

TODAY = date(2026, 3, 20)


def test_the_default_period_is_the_last_30_days():
    f = Filters.parse({}, TODAY)
    assert (f.start, f.end, f.dims) == (date(2026, 2, 19), TODAY, {})


def test_filters_round_trip_through_the_query_string():
    args = {"start": "2026-03-01", "end": "2026-03-31", "segment": "late", "variant_id": "7",
            "country": "CO", "template_key": "reminder.overdue.friendly"}  # fmt: skip
    f = Filters.parse(args, TODAY)
    assert f.dims == {"segment": "late", "variant_id": 7, "country": "CO",
                      "template_key": "reminder.overdue.friendly"}  # fmt: skip
    assert Filters.parse(f.args(), TODAY) == f


@pytest.mark.parametrize(
    "args",
    [
        {"start": "yesterday"},
        {"start": "2026-03-10", "end": "2026-03-01"},
        {"start": "2020-01-01", "end": "2026-03-01"},
        {"country": "colombia"},
        {"variant_id": "1; drop"},
        {"segment": "<script>"},
    ],
)
def test_bad_filters_are_refused(args):
    with pytest.raises(FilterError):
        Filters.parse(args, TODAY)


def test_a_filter_applies_only_where_the_metric_has_the_dimension():
    assert metrics.applicable("contacted", {"segment": "x", "cohort": "y"}) == {"segment"}
    assert metrics.applicable("placed", {"segment": "x", "country": "CO"}) == {"country"}
    assert metrics.ignored(("placed", "credited"), {"segment": "x"}) == ["segment"]
