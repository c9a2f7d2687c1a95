from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.conversations.agents import ScheduleError, availability, parse_hours

BOGOTA = ZoneInfo("America/Bogota")
CONFIG = {"AGENT_HOURS": "mon-fri 08:00-18:00, sat 09:00-13:00", "AGENT_TIMEZONE": "America/Bogota"}


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
    is_open, next_open = availability(CONFIG, moment)
    assert is_open is open_now
    if opens is None:
        assert next_open is None
    else:
        assert next_open.replace(tzinfo=None) == opens


def test_bad_hours_are_named():
    with pytest.raises(ScheduleError, match="'weekdays 8-6'"):
        parse_hours("weekdays 8-6")


def test_no_hours_means_never_open():
    assert availability({"AGENT_HOURS": "", "AGENT_TIMEZONE": "UTC"}) == (False, None)
