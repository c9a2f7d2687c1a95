"""Country packs: the law's contact rules as data, each setting with the provisions it
implements (law, article, effective date, legal minimum or conservative reading, sources).

The built-in packs live in bot/contact/packs/<COUNTRY>.yml (default.yml for countries without
one); CONTACT_PACKS_DIR adds packs for other countries or replaces a built-in one. A pack says
what the law allows; the creditor's contact rule (bot.contact.rules) can only make it stricter.
"""

from dataclasses import dataclass, field
from datetime import date, time
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

BUILT_IN = Path(__file__).resolve().parent / "packs"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
KINDS = ("legal_minimum", "conservative_reading", "platform", "practice")
BASES = ("primary", "secondary", "general_knowledge")
SUBDIVISION_MODES = ("none", "from_region", "from_region_else_union")
# Gate settings a pack may set, and what "not restricted" means for each.
SETTINGS = {
    "hours": None,
    "skip_holidays": False,
    "max_per_day": None,
    "max_per_week": None,
    "min_gap_hours": None,
    "max_channels_per_week": None,
    "consent_required": False,
    "opt_out_line_required": False,
    "stop_all_on_clear_request": False,
    "retention_years": None,
    "subdivisions": None,
}


class PackError(ValueError):
    """A pack file that cannot be used; the message names the file and the problem."""


def parse_clock(text):
    """ "07:00" -> time(7); "24:00" is the end of the day."""
    try:
        hour, minute = (int(part) for part in str(text).split(":"))
        return time(23, 59, 59, 999999) if (hour, minute) == (24, 0) else time(hour, minute)
    except (ValueError, TypeError) as exc:
        raise PackError(f"{text!r} is not a time like 07:00") from exc


def parse_hours(spec, where="hours"):
    """{"mon": ["07:00", "19:00"]} -> {0: (time(7), time(19))}; a missing day is closed."""
    hours = {}
    for day, span in (spec or {}).items():
        if day not in DAYS or not isinstance(span, (list, tuple)) or len(span) != 2:
            raise PackError(f"{where}: need a weekday (mon..sun) and [opens, closes]: {day}")
        opens, closes = parse_clock(span[0]), parse_clock(span[1])
        if opens >= closes:
            raise PackError(f"{where}: {day}: {span[0]} is not before {span[1]}")
        hours[DAYS.index(day)] = (opens, closes)
    return hours


@dataclass(frozen=True)
class LawRule:
    """One provision a pack implements."""

    id: str
    law: str
    effective: date | None
    kind: str
    basis: str
    summary: str
    sources: tuple = ()
    verify: bool = False


@dataclass(frozen=True)
class Legal:
    """What the law allows on one day, under one regime: hours None means no legal limit."""

    hours: dict | None
    skip_holidays: bool
    max_per_day: int | None
    max_per_week: int | None
    min_gap_hours: int | None
    max_channels_per_week: int | None
    consent_required: bool
    opt_out_line_required: bool
    stop_all_on_clear_request: bool
    retention_years: int | None
    subdivisions: dict
    sources: dict  # setting -> "co.hours, co.frequency" (the provisions behind it)


@dataclass(frozen=True)
class Pack:
    country: str
    name: str
    version: str
    zones: tuple
    calendar: str  # holidays country code, or "country" for the debtor's own
    subdivisions: str  # how the holiday calendar's subdivision is chosen
    gate: dict
    implements: dict
    default_policy: dict
    rules: tuple
    path: str = ""
    regimes: dict = field(default_factory=dict)
    default_regime: str | None = None

    @property
    def tag(self):
        return f"{self.country}@{self.version}"

    def rule(self, rule_id):
        return next((r for r in self.rules if r.id == rule_id), None)

    def legal(self, day, regime=None):
        """The settings in force on day (a setting whose provision takes effect later is not
        applied yet; an unknown effective date counts as in force), for the regime given or the
        pack's default one."""
        values = {name: self.gate.get(name, default) for name, default in SETTINGS.items()}
        if self.regimes:
            chosen = self.regimes.get(regime) or self.regimes[self.default_regime]
            values.update(chosen)
        sources = {}
        for name in SETTINGS:
            ids = self.implements.get(name) or []
            if any(self.rule(i).effective and self.rule(i).effective > day for i in ids):
                values[name] = SETTINGS[name]
                continue
            if ids:
                sources[name] = ", ".join(ids)
        hours = values["hours"]
        return Legal(
            hours=parse_hours(hours, f"{self.country} hours") if hours is not None else None,
            skip_holidays=bool(values["skip_holidays"]),
            max_per_day=values["max_per_day"],
            max_per_week=values["max_per_week"],
            min_gap_hours=values["min_gap_hours"],
            max_channels_per_week=values["max_channels_per_week"],
            consent_required=bool(values["consent_required"]),
            opt_out_line_required=bool(values["opt_out_line_required"]),
            stop_all_on_clear_request=bool(values["stop_all_on_clear_request"]),
            retention_years=values["retention_years"],
            subdivisions=values["subdivisions"] or {},
            sources=sources,
        )


def _date(value, where):
    if value in (None, "", "unknown"):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise PackError(f"{where}: effective {value!r} is not a date as YYYY-MM-DD") from exc


def parse_pack(data, path=""):
    """A Pack from a pack file's data; PackError names every kind of mistake."""
    where = path or "pack"
    if not isinstance(data, dict) or not data.get("country"):
        raise PackError(f"{where}: a pack needs a country")
    country = str(data["country"]).upper() if data["country"] != "*" else "*"
    rules = []
    for raw in data.get("rules") or []:
        rid = raw.get("id")
        if not rid or not raw.get("law"):
            raise PackError(f"{where}: every rule needs an id and the law it comes from")
        if raw.get("kind") not in KINDS:
            raise PackError(f"{where}: {rid}: kind must be one of {', '.join(KINDS)}")
        if raw.get("basis") not in BASES:
            raise PackError(f"{where}: {rid}: basis must be one of {', '.join(BASES)}")
        rules.append(
            LawRule(
                id=rid,
                law=str(raw["law"]).strip(),
                effective=_date(raw.get("effective"), f"{where}: {rid}"),
                kind=raw["kind"],
                basis=raw["basis"],
                summary=" ".join(str(raw.get("summary") or "").split()),
                sources=tuple(raw.get("sources") or ()),
                verify=bool(raw.get("verify")),
            )
        )
    ids = {r.id for r in rules}
    gate = dict(data.get("gate") or {})
    regimes = gate.pop("regimes", None) or {}
    default_regime = gate.pop("default_regime", None)
    unknown = set(gate) - set(SETTINGS)
    if unknown:
        raise PackError(f"{where}: unknown gate setting(s): {', '.join(sorted(unknown))}")
    if regimes and default_regime not in regimes:
        raise PackError(f"{where}: default_regime must name one of the regimes")
    implements = data.get("implements") or {}
    for setting, rule_ids in implements.items():
        if setting not in SETTINGS:
            raise PackError(f"{where}: implements names an unknown setting {setting!r}")
        missing = [i for i in rule_ids if i not in ids]
        if missing:
            raise PackError(f"{where}: {setting} implements unknown rule(s) {missing}")
    for name in ("max_per_day", "max_per_week", "min_gap_hours", "max_channels_per_week"):
        value = gate.get(name)
        if value is not None and (not isinstance(value, int) or value < 0):
            raise PackError(f"{where}: {name} must be a whole number of at least 0 or null")
    for zone in data.get("zones") or []:
        try:
            ZoneInfo(zone)
        except (KeyError, ValueError) as exc:
            raise PackError(f"{where}: unknown time zone {zone!r}") from exc
    holidays = data.get("holidays") or {}
    mode = holidays.get("subdivisions", "none")
    if mode not in SUBDIVISION_MODES:
        raise PackError(f"{where}: holidays.subdivisions must be one of {SUBDIVISION_MODES}")
    pack = Pack(
        country=country,
        name=str(data.get("name") or country),
        version=str(data.get("version") or "1"),
        zones=tuple(data.get("zones") or ()),
        calendar=str(holidays.get("calendar") or country),
        subdivisions=mode,
        gate=gate,
        implements=implements,
        default_policy=dict(data.get("default_policy") or {}),
        rules=tuple(rules),
        path=str(path),
        regimes=regimes,
        default_regime=default_regime,
    )
    for regime in [None, *regimes]:
        pack.legal(date.max, regime)  # hours and regimes parse, or PackError here
    return pack


@lru_cache(maxsize=8)
def load_packs(extra_dir=None):
    """{country: Pack}, "*" for the rest: the built-in packs, then those in extra_dir."""
    packs = {}
    dirs = [BUILT_IN] + ([Path(extra_dir)] if extra_dir else [])
    for directory in dirs:
        if not directory.is_dir():
            raise PackError(f"CONTACT_PACKS_DIR {directory} is not a directory")
        for path in sorted(directory.glob("*.yml")):
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8"))
            except yaml.YAMLError as exc:
                raise PackError(f"{path}: not valid YAML ({exc})") from exc
            pack = parse_pack(data, path)
            packs[pack.country] = pack
    if "*" not in packs:
        raise PackError('no default pack (country "*")')
    return packs


def pack_for(packs, country):
    return packs.get(country) or packs["*"]
