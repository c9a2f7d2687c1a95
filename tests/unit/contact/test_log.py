"""The contact log's rows: the zones a decision checked and the local time in each."""

from datetime import datetime

from bot.contact import log
from bot.contact.decision import Decision


def test_local_times_in_every_zone():
    at = datetime(2026, 12, 1, 15, 0)
    text = log.local_times(("America/Bogota", "America/New_York"), at)
    assert text == "America/Bogota 2026-12-01 10:00 -0500; America/New_York 2026-12-01 10:00 -0500"


def test_an_event_carries_the_decision():
    decision = Decision(
        "defer",
        "outside_hours",
        "sms",
        next_at=datetime(2026, 12, 2, 12, 0),
        template_key="reminder.discreet",
        rule="law:co.hours",
        zones=("America/Bogota",),
        pack="CO@2026.12",
    )
    row = log.event(
        datetime(2026, 12, 2, 2, 0), 7, "reminder", "deferred", decision, scheduled_id=3
    )
    assert row["reason"] == "outside_hours" and row["rule"] == "law:co.hours"
    assert row["local_times"] == "America/Bogota 2026-12-01 21:00 -0500"
    assert (row["channel"], row["pack"], row["scheduled_id"]) == ("sms", "CO@2026.12", 3)
