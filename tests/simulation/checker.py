"""A violation checker written from the law, not from the gate: it reads the country packs'
YAML files as a compliance officer would (their `gate` settings), the holidays package, and
what really happened in the simulated world (where each debtor really was, what they said and
when), and judges every message Twilio received. It imports nothing from bot.contact."""

from collections import defaultdict
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import yaml

PACKS_DIR = Path(__file__).resolve().parents[2] / "bot" / "contact" / "packs"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
UTC = ZoneInfo("UTC")


def law(country):
    """The gate settings of country's pack, as written (the default regime where there are
    two), with holiday calendars as the pack describes them."""
    data = yaml.safe_load((PACKS_DIR / f"{country}.yml").read_text(encoding="utf-8"))
    gate = dict(data["gate"])
    regimes = gate.pop("regimes", None)
    if regimes:
        gate.update(regimes[gate.pop("default_regime")])
    gate["holiday_mode"] = data["holidays"]["subdivisions"]
    return gate


def _clock(text):
    hour, minute = (int(x) for x in text.split(":"))
    return time(hour, minute)


def local(at, zone):
    return at.replace(tzinfo=UTC).astimezone(ZoneInfo(zone))


class Holidays:
    def __init__(self):
        self.cache = {}

    def __call__(self, country, region, day):
        key = (country, region, day.year)
        if key not in self.cache:
            days = set(holidays.country_holidays(country, years=day.year))
            if region:
                days |= set(holidays.country_holidays(country, subdiv=region, years=day.year))
            self.cache[key] = days
        return day in self.cache[key]


class Checker:
    """Judge every message; .violations lists (rule, debtor, moment, detail)."""

    def __init__(self, world_debtors, timeline):
        self.debtors = world_debtors
        self.timeline = timeline  # debtor index -> [(moment, kind, data)] of what happened
        self.laws = {}
        self.holiday = Holidays()
        self.violations = []

    def law_for(self, country):
        if country not in self.laws:
            self.laws[country] = law(country)
        return self.laws[country]

    def flag(self, rule, index, at, detail=""):
        self.violations.append((rule, self.debtors[index].external_id, at, detail))

    def check(self, messages):
        """messages: [(debtor index, moment UTC, channel, body, free_text)] sorted by moment."""
        by_debtor = defaultdict(list)
        for index, at, channel, body, free_text in messages:
            by_debtor[index].append((at, channel, body, free_text))
            self.check_one(index, at, channel, body, free_text)
        for index, items in by_debtor.items():
            self.check_frequency(index, items)
        return self.violations

    def zones(self, index):
        d = self.debtors[index]
        return {d.true_zone} | ({d.address_zone} if d.address_zone else set())

    def check_one(self, index, at, channel, body, free_text):
        d = self.debtors[index]
        rules = self.law_for(d.country)
        for zone in self.zones(index):
            moment = local(at, zone)
            hours = rules.get("hours") or {}
            span = hours.get(DAYS[moment.weekday()])
            if span is None:
                self.flag("closed_day", index, at, zone)
            elif not _clock(span[0]) <= moment.time() < _clock(span[1]):
                self.flag("hours", index, at, f"{zone} {moment:%a %H:%M}")
            region = d.region if rules["holiday_mode"] != "none" else None
            if rules.get("skip_holidays") and self.holiday(d.country, region, moment.date()):
                self.flag("holiday", index, at, f"{zone} {moment.date()}")
        if rules.get("opt_out_line_required") and "STOP" not in (body or ""):
            self.flag("opt_out_line", index, at)
        state = self.state(index, at)
        if rules.get("consent_required") and channel not in state["consented"]:
            self.flag("consent", index, at, channel)
        if channel in state["opted_out"] or state["all_out"]:
            self.flag("after_opt_out", index, at, channel)
        if state["wrong_number"]:
            self.flag("wrong_number", index, at)
        if state["disputed"]:
            self.flag("disputed", index, at)
        if state["paid"]:
            self.flag("paid", index, at)
        if state["agent"]:
            self.flag("agent_held", index, at)
        if not state["right_party"]:
            for secret in (d.external_id, "/pay/"):
                if secret in (body or ""):
                    self.flag("disclosure", index, at, secret)
        if channel == "whatsapp" and free_text:
            last = state["last_inbound"]
            if last is None or at - last >= timedelta(hours=24):
                self.flag("whatsapp_window", index, at)

    def state(self, index, at):
        """What had happened to a debtor before at."""
        d = self.debtors[index]
        s = {
            "consented": set(d.consent),
            "opted_out": set(),
            "all_out": False,
            "wrong_number": False,
            "disputed": False,
            "paid": False,
            "agent": False,
            "right_party": False,
            "last_inbound": None,
        }
        for moment, kind, data in self.timeline.get(index, ()):
            if moment > at:
                break
            if kind == "write_in":
                s["last_inbound"] = moment
                if data.get("verify"):
                    s["right_party"] = True
                    # The holder proved who they are on this number: it is theirs after all,
                    # and the wrong-number mark is cleared (issue 16).
                    s["wrong_number"] = False
            elif kind == "fail_verify":
                s["right_party"] = False
                s["last_inbound"] = moment
            elif kind == "opt_out":
                s["opted_out"].add(data["channel"])
            elif kind == "opt_out_all":
                s["all_out"] = True
            elif kind == "wrong_number":
                s["wrong_number"] = True
            elif kind == "dispute":
                s["disputed"] = True
            elif kind == "pay" and data.get("share") == 1.0:
                s["paid"] = True
            elif kind == "agent_claim":
                s["agent"] = True
            elif kind == "agent_release":
                s["agent"] = False
            elif kind == "consent_chat":
                s["consented"].add(data["channel"])
        return s

    def check_frequency(self, index, items):
        d = self.debtors[index]
        rules = self.law_for(d.country)
        moments = [at for at, _c, _b, _f in items]
        per_day = rules.get("max_per_day")
        per_week = rules.get("max_per_week")
        sub = (rules.get("subdivisions") or {}).get(d.region or "") or {}
        if sub.get("max_per_week") is not None:
            per_week = min(x for x in (per_week, sub["max_per_week"]) if x is not None)
        gap = rules.get("min_gap_hours")
        channels_week = rules.get("max_channels_per_week")
        for i, at in enumerate(moments):
            if per_day is not None:
                for zone in self.zones(index):
                    day = local(at, zone).date()
                    same = [m for m in moments if local(m, zone).date() == day]
                    if len(same) > per_day:
                        self.flag("per_day", index, at, f"{len(same)} on {day} {zone}")
            window = [m for m in moments if at - timedelta(days=7) < m <= at]
            if per_week is not None and len(window) > per_week:
                self.flag("per_week", index, at, f"{len(window)} in 7 days")
            if gap and i and at - moments[i - 1] < timedelta(hours=gap):
                self.flag("min_gap", index, at, str(at - moments[i - 1]))
            if channels_week:
                used = {c for m, c, _b, _f in items if at - timedelta(days=7) < m <= at}
                if len(used) > channels_week:
                    self.flag("channels_per_week", index, at, ",".join(sorted(used)))


def first_of(violations, count=10):
    return "\n".join(
        f"{rule} {who} {at:%Y-%m-%d %H:%M} {detail}" for rule, who, at, detail in violations[:count]
    )


def parse_moment(value):
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
