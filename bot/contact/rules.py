"""The rule a debtor's messages follow: the country pack (the law, bot.contact.packs) and the
creditor's own contact policy (contact_rules rows, editable), combined so that the stricter of
both applies to every setting. A policy can narrow the hours, lower the caps, widen the gap,
skip holidays, forbid the SMS fallback or require consent; it can never loosen the law.

Each setting of the combined rule remembers where it came from ("law:co.hours" or
"policy:CO"), so a decision's reason names the provision that held a message back."""

from dataclasses import dataclass, field
from datetime import time
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from sqlalchemy import select

from bot.clock import utcnow
from bot.contact import packs as packs_module
from bot.contact.calendar import calendar_for, load_overrides
from bot.models import ContactRule

DAYS = packs_module.DAYS
POLICY_FIELDS = (
    "country",
    "hours",
    "skip_holidays",
    "max_per_day",
    "max_per_week",
    "min_gap_hours",
    "sms_fallback",
    "default_timezone",
    "regime",
    "require_consent",
)

# The creditor's policies seeded by migrations 0009 and 0010; editable in contact_rules
# (`flask compliance policy-set`). "*" is every country without a row of its own. Hours {}
# means "the law's hours" (no narrower creditor hours).
DEFAULT_POLICIES = [
    {
        "country": "CO",
        "hours": {d: ["07:00", "19:00"] for d in DAYS[:5]} | {"sat": ["08:00", "15:00"]},
        "skip_holidays": True,
        "max_per_day": 1,
        "max_per_week": 2,
        "min_gap_hours": 0,
        "sms_fallback": True,
        "default_timezone": "America/Bogota",
    },
    {
        "country": "CL",
        "hours": {d: ["08:00", "20:00"] for d in DAYS[:6]},
        "skip_holidays": False,
        "max_per_day": 1,
        "max_per_week": 2,
        "min_gap_hours": 48,
        "sms_fallback": True,
        "default_timezone": "America/Santiago",
    },
    {
        "country": "MX",
        "hours": {d: ["07:00", "22:00"] for d in DAYS},
        "skip_holidays": False,
        "max_per_day": 1,
        "max_per_week": 3,
        "min_gap_hours": 0,
        "sms_fallback": True,
        "default_timezone": "America/Mexico_City",
    },
    {
        "country": "US",
        "hours": {d: ["08:00", "21:00"] for d in DAYS},
        "skip_holidays": False,
        "max_per_day": 1,
        "max_per_week": 7,
        "min_gap_hours": 0,
        "sms_fallback": True,
        "default_timezone": "America/New_York",
    },
    {"country": "PE", "hours": {}, "max_per_day": 1, "max_per_week": 3},
    {"country": "AR", "hours": {}, "max_per_day": 1, "max_per_week": 2},
    {
        "country": "*",
        "hours": {d: ["08:00", "20:00"] for d in DAYS},
        "skip_holidays": False,
        "max_per_day": 1,
        "max_per_week": 3,
        "min_gap_hours": 0,
        "sms_fallback": True,
        "default_timezone": None,
    },
]
# Kept for callers of the layout round's name.
DEFAULT_RULES = DEFAULT_POLICIES


class RuleError(ValueError):
    """A contact policy that cannot be used (bad hours, negative caps, unknown regime)."""


@dataclass(frozen=True)
class Policy:
    """The creditor's contact policy for a country (a contact_rules row)."""

    country: str
    hours: dict  # weekday index -> (opens, closes); {} = no creditor restriction
    skip_holidays: bool = False
    max_per_day: int | None = None
    max_per_week: int | None = None
    min_gap_hours: int = 0
    sms_fallback: bool = True
    default_timezone: str | None = None
    regime: str | None = None
    require_consent: bool = False

    @classmethod
    def from_row(cls, row):
        return cls.from_dict({c: getattr(row, c, None) for c in POLICY_FIELDS})

    @classmethod
    def from_dict(cls, data):
        try:
            hours = packs_module.parse_hours(data.get("hours") or {})
        except packs_module.PackError as exc:
            raise RuleError(str(exc)) from exc
        for name in ("max_per_day", "max_per_week", "min_gap_hours"):
            value = data.get(name)
            if value is not None and int(value) < 0:
                raise RuleError(f"{name} cannot be negative")
        if data.get("default_timezone"):
            try:
                ZoneInfo(data["default_timezone"])
            except (KeyError, ValueError) as exc:
                raise RuleError(f"unknown time zone {data['default_timezone']!r}") from exc

        def number(name):
            value = data.get(name)
            return None if value is None else int(value)

        return cls(
            country=data["country"],
            hours=hours,
            skip_holidays=bool(data.get("skip_holidays")),
            max_per_day=number("max_per_day"),
            max_per_week=number("max_per_week"),
            min_gap_hours=number("min_gap_hours") or 0,
            sms_fallback=data.get("sms_fallback") is not False,
            default_timezone=data.get("default_timezone"),
            regime=data.get("regime") or None,
            require_consent=bool(data.get("require_consent")),
        )


@dataclass(frozen=True)
class Rule:
    """What a debtor's messages must respect: the stricter of the law and the policy."""

    country: str
    hours: dict  # weekday index -> (opens, closes), closes exclusive; a missing day is closed
    skip_holidays: bool = False
    max_per_day: int | None = None
    max_per_week: int | None = None
    min_gap_hours: int = 0
    max_channels_per_week: int | None = None
    sms_fallback: bool = True
    consent_required: bool = False
    opt_out_line_required: bool = False
    stop_all_on_clear_request: bool = True
    retention_years: int | None = None
    zones: tuple = ()  # the country's zones, when the number says nothing usable
    calendar: object = None
    pack: str = ""  # the pack's tag, CO@2026.12
    sources: dict = field(default_factory=dict)  # setting -> "law:co.hours" / "policy:CO"

    def is_holiday(self, day):
        return self.skip_holidays and self.calendar is not None and self.calendar.is_holiday(day)

    def source(self, setting):
        return self.sources.get(setting, "")


ALL_DAY = (time(0), time(23, 59, 59, 999999))


def _hours(legal_hours, policy_hours):
    """Per weekday, the span open under both (closed when either is closed)."""
    if legal_hours is None and not policy_hours:
        return {day: ALL_DAY for day in range(7)}
    if legal_hours is None:
        return dict(policy_hours)
    if not policy_hours:
        return dict(legal_hours)
    out = {}
    for day, (opens, closes) in legal_hours.items():
        if day in policy_hours:
            o, c = max(opens, policy_hours[day][0]), min(closes, policy_hours[day][1])
            if o < c:
                out[day] = (o, c)
    return out


def _stricter_cap(name, legal, policy, law_source, policy_source, sources):
    """The lower of two caps (None = no cap), noting which one binds."""
    if legal is not None and (policy is None or legal <= policy):
        sources[name] = law_source
        return legal
    if policy is not None:
        sources[name] = policy_source
    return policy


def combine(pack, policy, day, region=None, overrides=None, country=None):
    """The rule for a debtor of country (region: a subdivision code) on day: the pack's
    provisions in force that day and the creditor's policy, the stricter of each."""
    country = country or pack.country
    if policy.regime and pack.regimes and policy.regime not in pack.regimes:
        raise RuleError(f"{country}: unknown regime {policy.regime!r}")
    legal = pack.legal(day, policy.regime)
    law = {name: f"law:{ids}" for name, ids in legal.sources.items()}
    mine = f"policy:{policy.country}"
    sources = {}
    max_per_week = legal.max_per_week
    sub = legal.subdivisions.get(region or "") or {}
    if sub.get("max_per_week") is not None:
        if max_per_week is None or sub["max_per_week"] < max_per_week:
            max_per_week = sub["max_per_week"]
            law["max_per_week"] = "law:" + legal.sources.get("subdivisions", "subdivision")
    hours = _hours(legal.hours, policy.hours)
    sources["hours"] = (
        ", ".join(filter(None, [law.get("hours"), mine if policy.hours else None])) or "none"
    )
    per_day = _stricter_cap(
        "max_per_day", legal.max_per_day, policy.max_per_day, law.get("max_per_day"), mine, sources
    )
    per_week = _stricter_cap(
        "max_per_week", max_per_week, policy.max_per_week, law.get("max_per_week"), mine, sources
    )
    gap = max(legal.min_gap_hours or 0, policy.min_gap_hours or 0)
    if gap:
        sources["min_gap_hours"] = (
            law.get("min_gap_hours") if (legal.min_gap_hours or 0) >= policy.min_gap_hours else mine
        )
    skip = legal.skip_holidays or policy.skip_holidays
    if skip:
        sources["skip_holidays"] = law.get("skip_holidays") if legal.skip_holidays else mine
    consent = legal.consent_required or policy.require_consent
    if consent:
        sources["consent_required"] = law.get("consent_required") or mine
    for name in ("max_channels_per_week", "opt_out_line_required", "retention_years"):
        if law.get(name):
            sources[name] = law[name]
    return Rule(
        country=country,
        hours=hours,
        skip_holidays=skip,
        max_per_day=per_day,
        max_per_week=per_week,
        min_gap_hours=gap,
        max_channels_per_week=legal.max_channels_per_week,
        sms_fallback=policy.sms_fallback,
        consent_required=consent,
        opt_out_line_required=legal.opt_out_line_required,
        stop_all_on_clear_request=legal.stop_all_on_clear_request,
        retention_years=legal.retention_years,
        zones=pack.zones,
        calendar=calendar_for(pack, country, region, overrides or {}) if skip else None,
        pack=pack.tag,
        sources=sources,
    )


def load_policies(session):
    """The creditor's policies by country ("*" is the default)."""
    policies = {
        row.country: Policy.from_row(row) for row in session.execute(select(ContactRule)).scalars()
    }
    if "*" not in policies:
        policies["*"] = Policy.from_dict(DEFAULT_POLICIES[-1])
    return policies


def packs():
    extra = current_app.config.get("CONTACT_PACKS_DIR") if has_app_context() else None
    return packs_module.load_packs(extra or None)


class Rules:
    """The combined rule per (country, region) for one day, built once and cached: a batch of
    decisions shares it."""

    def __init__(self, packs_by_country, policies, day, overrides=None):
        self.packs = packs_by_country
        self.policies = policies
        self.day = day
        self.overrides = overrides or {}
        self._cache = {}

    def pack(self, country):
        return packs_module.pack_for(self.packs, country)

    def policy(self, country):
        return self.policies.get(country) or self.policies["*"]

    def get(self, country, region=None):
        key = (country, region)
        rule = self._cache.get(key)
        if rule is None:
            rule = combine(
                self.pack(country),
                self.policy(country),
                self.day,
                region,
                self.overrides,
                country=country,
            )
            self._cache[key] = rule
        return rule

    # The layout round's dict-like use: rules.get(country) or rules["*"].
    def __getitem__(self, country):
        return self.get(country)


def load_rules(session, day=None):
    """Every country's combined rule for day (default: today in UTC)."""
    return Rules(packs(), load_policies(session), day or utcnow().date(), load_overrides(session))


def rule_for(rules, country, region=None):
    return rules.get(country, region)
