from datetime import datetime, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from bot import clock
from bot.conversations.agents import availability, handoff_message
from bot.hours import ScheduleError, parse_hours

BOGOTA = ZoneInfo("America/Bogota")
CONFIG = {"AGENT_HOURS": "mon-fri 08:00-18:00, sat 09:00-13:00", "AGENT_TIMEZONE": "America/Bogota"}


def utc(moment):
    """The clock's convention: naive UTC."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


@pytest.mark.parametrize(
    ("moment", "open_now", "opens"),
    [
        (datetime(2026, 11, 23, 10, 0, tzinfo=BOGOTA), True, None),  # Monday morning
        (datetime(2026, 11, 23, 18, 0, tzinfo=BOGOTA), False, datetime(2026, 11, 24, 8, 0)),
        (datetime(2026, 11, 23, 7, 59, tzinfo=BOGOTA), False, datetime(2026, 11, 23, 8, 0)),
        (datetime(2026, 11, 28, 14, 0, tzinfo=BOGOTA), False, datetime(2026, 11, 30, 8, 0)),
        (datetime(2026, 11, 28, 12, 0, tzinfo=BOGOTA), True, None),  # Saturday noon
        # 02:00 UTC on Tuesday is still Monday 21:00 in Bogota.
        (datetime(2026, 11, 24, 2, 0, tzinfo=ZoneInfo("UTC")), False, datetime(2026, 11, 24, 8)),
    ],
)
def test_availability(moment, open_now, opens):
    is_open, next_open = availability(CONFIG, utc(moment))
    assert is_open is open_now
    if opens is None:
        assert next_open is None
    else:
        assert next_open.replace(tzinfo=None) == opens


def test_availability_reads_the_clock_when_not_told(time_machine):
    time_machine.move_to(datetime(2026, 11, 29, 15, 0, tzinfo=timezone.utc), tick=False)  # Sunday
    assert clock.utcnow() == datetime(2026, 11, 29, 15, 0)
    is_open, next_open = availability(CONFIG)
    assert not is_open
    assert next_open.replace(tzinfo=None) == datetime(2026, 11, 30, 8, 0)


def test_bad_hours_are_named():
    with pytest.raises(ScheduleError, match="'weekdays 8-6'"):
        parse_hours("weekdays 8-6")


def test_no_hours_means_never_open():
    assert availability({"AGENT_HOURS": "", "AGENT_TIMEZONE": "UTC"}) == (False, None)


def test_the_handoff_says_a_person_answers_soon_on_shift():
    monday_morning = utc(datetime(2026, 11, 23, 10, 0, tzinfo=BOGOTA))
    debtor = SimpleNamespace(timezone="America/Mexico_City")
    assert handoff_message(CONFIG, debtor, monday_morning) == {
        "template": "agent.handoff",
        "vars": {},
    }


@pytest.mark.parametrize(
    ("zone", "opens_time", "city"),
    [
        ("America/Mexico_City", "07:00", "America/Mexico_City"),  # Bogotá's 08:00 is 07:00
        (None, "08:00", "America/Bogota"),  # no zone on file: the agents' own
    ],
)
def test_out_of_hours_the_debtor_hears_when_in_their_own_time(zone, opens_time, city):
    sunday = utc(datetime(2026, 11, 29, 10, 0, tzinfo=BOGOTA))
    message = handoff_message(CONFIG, SimpleNamespace(timezone=zone), sunday)
    assert message == {
        "template": "agent.handoff_later",
        "vars": {"opens_day": "2026-11-30", "opens_time": opens_time, "zone": city},
    }
