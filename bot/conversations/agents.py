"""When agents are on shift (AGENT_HOURS in AGENT_TIMEZONE) and what a debtor handed to them is
told: a person soon, or when the team is back, in the debtor's own time."""

from zoneinfo import ZoneInfo

from bot import clock
from bot.hours import is_open, next_opening, parse_hours


def availability(config, now=None):
    """(open now?, next opening as an aware datetime or None)."""
    zone = ZoneInfo(config["AGENT_TIMEZONE"])
    moment = clock.aware(now or clock.utcnow(), config["AGENT_TIMEZONE"]).astimezone(zone)
    schedule = parse_hours(config["AGENT_HOURS"])
    if is_open(schedule, moment):
        return True, None
    return False, next_opening(schedule, moment)


def handoff_message(config, debtor, now=None):
    """The template message telling a debtor handed to agents when to expect a person:
    "agent.handoff" on shift, else "agent.handoff_later" with the next opening in the debtor's
    zone (the agents' zone when the debtor's is not known)."""
    on_shift, opens = availability(config, now)
    if on_shift or opens is None:
        return {"template": "agent.handoff", "vars": {}}
    zone = (debtor.timezone if debtor is not None else None) or config["AGENT_TIMEZONE"]
    opens = opens.astimezone(ZoneInfo(zone))
    return {
        "template": "agent.handoff_later",
        "vars": {
            "opens_day": opens.date().isoformat(),
            "opens_time": opens.strftime("%H:%M"),
            "zone": zone,  # told as its city in the debtor's language ("Bogotá")
        },
    }
