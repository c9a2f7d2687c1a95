"""The contact gate: every proactive message passes it before it is sent.

It answers send (on which channel, free text or an approved template), defer (to the next
moment the hours and caps allow) or suppress (a rule forbids it), always with a reason.
Debtor-initiated replies never come here and never count toward the caps: only proactive
messages the gate let through (scheduled_messages.contacted_at) do.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
import phonenumbers
from phonenumbers import timezone as pn_timezone
from sqlalchemy import select

from bot.models import ContactRule, Conversation, ScheduledMessage, TemplateKey
from bot.outbound.messaging import WHATSAPP_WINDOW

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WINDOW = WHATSAPP_WINDOW  # the customer-service window after the debtor writes
BLOCKED_ACCOUNT = {"disputed": "disputed", "claim_review": "claim_review"}
CLOSED_ACCOUNT = ("paid", "closed")

# Seeded by migration 0007; editable in the contact_rules table (`flask reminders rule-set`).
DEFAULT_RULES = [
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


class RuleError(ValueError):
    """A contact rule that cannot be used (bad hours, negative caps)."""


def _clock(text):
    try:
        hour, minute = (int(part) for part in text.split(":"))
        return time(23, 59, 59, 999999) if (hour, minute) == (24, 0) else time(hour, minute)
    except (ValueError, AttributeError) as exc:
        raise RuleError(f"{text!r} is not a time like 07:00") from exc


@dataclass(frozen=True)
class Rule:
    country: str
    hours: dict  # weekday index -> (opens, closes), closes exclusive
    skip_holidays: bool = False
    max_per_day: int = 1
    max_per_week: int = 3
    min_gap_hours: int = 0
    sms_fallback: bool = True
    default_timezone: str | None = None

    @classmethod
    def from_row(cls, row):
        return cls.from_dict({c: getattr(row, c) for c in DEFAULT_RULES[0]})

    @classmethod
    def from_dict(cls, data):
        hours = {}
        for day, span in (data.get("hours") or {}).items():
            if day not in DAYS or len(span) != 2:
                raise RuleError(f"hours need a weekday (mon..sun) and [opens, closes]: {day}")
            opens, closes = _clock(span[0]), _clock(span[1])
            if opens >= closes:
                raise RuleError(f"{day}: {span[0]} is not before {span[1]}")
            hours[DAYS.index(day)] = (opens, closes)
        for name in ("max_per_day", "max_per_week", "min_gap_hours"):
            if int(data.get(name, 0)) < 0:
                raise RuleError(f"{name} cannot be negative")
        if data.get("default_timezone"):
            try:
                ZoneInfo(data["default_timezone"])
            except (KeyError, ValueError) as exc:
                raise RuleError(f"unknown time zone {data['default_timezone']!r}") from exc
        return cls(
            country=data["country"],
            hours=hours,
            skip_holidays=bool(data.get("skip_holidays")),
            max_per_day=int(data.get("max_per_day", 1)),
            max_per_week=int(data.get("max_per_week", 3)),
            min_gap_hours=int(data.get("min_gap_hours", 0)),
            sms_fallback=bool(data.get("sms_fallback", True)),
            default_timezone=data.get("default_timezone"),
        )


def load_rules(session):
    """All contact rules by country ("*" is the default)."""
    rules = {
        row.country: Rule.from_row(row) for row in session.execute(select(ContactRule)).scalars()
    }
    if "*" not in rules:
        rules["*"] = Rule.from_dict(DEFAULT_RULES[-1])
    return rules


@lru_cache(maxsize=64)
def _holidays(country):
    try:
        return holidays.country_holidays(country)
    except NotImplementedError:
        return {}


@lru_cache(maxsize=4096)
def _number_zones(phone):
    try:
        number = phonenumbers.parse(phone)
    except phonenumbers.NumberParseException:
        return ()
    zones = pn_timezone.time_zones_for_number(number)
    return tuple(sorted(z for z in zones if "/" in z and not z.startswith("Etc/")))


def zones_for(phone, stored, rule):
    """The debtor's time zones: the stored one, else all the number's, else the country's."""
    if stored:
        return (stored,)
    zones = _number_zones(phone)
    if zones:
        return zones
    return (rule.default_timezone or "UTC",)


def _local(moment, zone):
    return moment.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(zone))


def local_date(moment, zone):
    """The calendar date in zone at moment (naive UTC)."""
    return _local(moment, zone).date()


def _utc(local):
    return local.astimezone(timezone.utc).replace(tzinfo=None)


def _closed_reason(rule, country, zone, moment):
    """Why moment (naive UTC) is not allowed in zone, or None when it is."""
    local = _local(moment, zone)
    if rule.skip_holidays and local.date() in _holidays(country):
        return "holiday"
    span = rule.hours.get(local.weekday())
    if span is None:
        return "closed_day"
    if not span[0] <= local.time() < span[1]:
        return "outside_hours"
    return None


def hours_block(rule, country, zones, moment):
    """The reason moment is outside the allowed hours in any of the zones, or None."""
    for zone in zones:
        reason = _closed_reason(rule, country, zone, moment)
        if reason:
            return reason
    return None


def next_allowed(rule, country, zones, moment, horizon_days=21):
    """The first moment at or after moment allowed in all zones, or None within the horizon.

    The intersection of the zones' windows opens either now or when one zone's window opens,
    so only those instants are candidates."""
    candidates = {moment}
    for zone in zones:
        start = _local(moment, zone).date()
        for offset in range(horizon_days + 1):
            day = start + timedelta(days=offset)
            span = rule.hours.get(day.weekday())
            if span is None:
                continue
            opens = datetime.combine(day, span[0], tzinfo=ZoneInfo(zone))
            at = _utc(opens)
            if at > moment:
                candidates.add(at)
    for candidate in sorted(candidates):
        if hours_block(rule, country, zones, candidate) is None:
            return candidate
    return None


@dataclass
class Decision:
    action: str  # send / defer / suppress
    reason: str | None = None
    channel: str | None = None
    content_sid: str | None = None  # set when WhatsApp needs the approved template
    next_at: datetime | None = None


@dataclass
class Context:
    """What the gate needs about a batch of debtors, loaded in a few queries."""

    rules: dict
    content_sids: dict  # template key -> Content SID
    conversations: dict = field(default_factory=dict)  # debtor id -> [Conversation-like rows]
    contacts: dict = field(default_factory=lambda: defaultdict(list))  # debtor id -> [UTC]

    @classmethod
    def load(cls, session):
        sids = dict(
            session.execute(
                select(TemplateKey.key, TemplateKey.content_sid).where(
                    TemplateKey.content_sid.isnot(None)
                )
            ).all()
        )
        return cls(rules=load_rules(session), content_sids=sids)

    def load_debtors(self, session, debtor_ids, now):
        """Load conversations and recent contacts of these debtors (one batch)."""
        ids = list(set(debtor_ids))
        self.conversations = defaultdict(list)
        self.contacts = defaultdict(list)
        if not ids:
            return
        rows = session.execute(
            select(
                Conversation.debtor_id,
                Conversation.channel,
                Conversation.state,
                Conversation.last_inbound_at,
            ).where(Conversation.debtor_id.in_(ids))
        ).all()
        for row in rows:
            self.conversations[row.debtor_id].append(row)
        since = now - timedelta(days=7)
        for debtor_id, at in session.execute(
            select(ScheduledMessage.debtor_id, ScheduledMessage.contacted_at).where(
                ScheduledMessage.debtor_id.in_(ids), ScheduledMessage.contacted_at >= since
            )
        ).all():
            self.contacts[debtor_id].append(at)

    def rule_for(self, country):
        return self.rules.get(country) or self.rules["*"]

    def contacted(self, debtor_id, at):
        """Count a contact just let through, so the next message in the batch sees it."""
        self.contacts[debtor_id].append(at)


def cap_block(rule, zone, history, moment):
    """(reason, earliest moment the caps allow) or (None, moment)."""
    if not history:
        return None, moment
    recent = sorted(at for at in history if at > moment - timedelta(days=7) and at <= moment)
    if rule.min_gap_hours and recent:
        free = recent[-1] + timedelta(hours=rule.min_gap_hours)
        if free > moment:
            return "min_gap", free
    if len(recent) >= rule.max_per_week:
        if rule.max_per_week == 0:
            return "cap_week", None
        # The window frees when the oldest contact that fills it turns seven days old.
        return "cap_week", recent[-rule.max_per_week] + timedelta(days=7, seconds=1)
    local = _local(moment, zone)
    today = [at for at in recent if _local(at, zone).date() == local.date()]
    if len(today) >= rule.max_per_day:
        if rule.max_per_day == 0:
            return "cap_day", None
        midnight = datetime.combine(local.date() + timedelta(days=1), time(), tzinfo=local.tzinfo)
        return "cap_day", _utc(midnight)
    return None, moment


def rule_block(wrong_number_at, account_status, step, agent_held):
    """The rule that forbids this reminder whatever the hour (wrong number, a debt paused or
    closed, an agent holding the debtor), or None."""
    if wrong_number_at is not None:
        return "wrong_number"
    if account_status in BLOCKED_ACCOUNT:
        return BLOCKED_ACCOUNT[account_status]
    if account_status in CLOSED_ACCOUNT and not step.startswith("thank_you"):
        return "account_closed"
    if agent_held:
        return "agent_held"
    return None


def check(ctx, item, now):
    """Decide on one proactive message. item has debtor_id, phone, country, timezone,
    opted_out_whatsapp_at, opted_out_sms_at, wrong_number_at, account_status, template_key,
    step and expires_at (a row of the dispatch query)."""
    conversations = ctx.conversations.get(item.debtor_id, ())
    held = any(c.state == "agent" for c in conversations)
    reason = rule_block(item.wrong_number_at, item.account_status, item.step, held)
    if reason:
        return Decision("suppress", reason)
    rule = ctx.rule_for(item.country)
    channel, content_sid, reason = _channel(ctx, item, rule, conversations, now)
    if channel is None:
        return Decision("suppress", reason)
    zones = zones_for(item.phone, item.timezone, rule)
    moment, first_reason = now, None
    for _ in range(10):  # caps and hours push each other forward; a few rounds settle it
        why, free = cap_block(rule, zones[0], ctx.contacts.get(item.debtor_id), moment)
        if why and free is None:
            return Decision("suppress", why)
        if why:
            first_reason, moment = first_reason or why, free
        closed = hours_block(rule, item.country, zones, moment)
        if closed:
            first_reason = first_reason or closed
            moment = next_allowed(rule, item.country, zones, moment)
            if moment is None:
                return Decision("suppress", "no_allowed_hours")
            continue
        if not why:
            break
    if moment == now:
        return Decision("send", None, channel, content_sid)
    if moment > item.expires_at:
        return Decision("suppress", f"expired:{first_reason}")
    return Decision("defer", first_reason, channel, content_sid, next_at=moment)


def _channel(ctx, item, rule, conversations, now):
    """(channel, content_sid, reason): WhatsApp free text inside the 24-hour window, an approved
    template outside it, else SMS when the rule allows it."""
    whatsapp_out = item.opted_out_whatsapp_at is not None
    sms_out = item.opted_out_sms_at is not None
    if whatsapp_out and sms_out:
        return None, None, "opted_out"
    if not whatsapp_out:
        last = max(
            (
                c.last_inbound_at
                for c in conversations
                if c.channel == "whatsapp" and c.last_inbound_at
            ),
            default=None,
        )
        if last is not None and now - last < WINDOW:
            return "whatsapp", None, None
        sid = ctx.content_sids.get(item.template_key)
        if sid:
            return "whatsapp", sid, None
    if not sms_out and (rule.sms_fallback or whatsapp_out):
        return "sms", None, None
    return None, None, ("opted_out" if whatsapp_out else "no_approved_template")
