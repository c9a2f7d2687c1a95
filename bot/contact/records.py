"""The records a compliance officer asks for, as CSV: a debtor's contact log, the weekly
contacts per channel against each country's rule, and the opt-out and consent register. Kept
at least as long as the strictest pack asks (Chile: two years; the platform keeps three)."""

import csv
import io
from collections import defaultdict
from datetime import date, datetime, timedelta

from sqlalchemy import delete, func, select

from bot import clock
from bot.contact.hours import hours_block, zones_for
from bot.contact.rules import load_rules
from bot.models import AuditEvent, ConsentRecord, ContactEvent, Debtor

# Never purged younger than this, whatever a pack says (Chile asks two years; Reg F three).
MIN_RETENTION_YEARS = 2
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

LOG_COLUMNS = (
    "at_utc",
    "debtor_id",
    "purpose",
    "decision",
    "reason",
    "rule",
    "channel",
    "template_key",
    "template_version",
    "locale",
    "zones",
    "local_times",
    "pack",
    "next_at_utc",
    "scheduled_id",
    "message_id",
)
REPORT_COLUMNS = (
    "week",
    "country",
    "pack",
    "channel",
    "contacts",
    "debtors",
    "max_per_debtor_day",
    "limit_per_day",
    "debtors_over_day",
    "max_per_debtor_week",
    "limit_per_week",
    "debtors_over_week",
    "debtors_on_several_channels",
    "limit_channels_per_week",
    "min_gap_breaches",
    "outside_allowed_hours",
)
REGISTER_COLUMNS = (
    "recorded_at_utc",
    "debtor_id",
    "debtor_name",
    "phone",
    "channel",
    "action",
    "scope",
    "given_at_utc",
    "method",
    "evidence",
    "message_id",
    "recorded_by",
)


def _text(value):
    # A spreadsheet runs a cell that starts like a formula: free text is made inert.
    value = "" if value is None else str(value)
    return "'" + value if value.startswith(_FORMULA_START) else value


def _stamp(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""


def to_csv(rows, columns):
    """CSV text, chunk by chunk (for a streamed download)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    for count, row in enumerate(rows, 1):
        writer.writerow(row)
        if count % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def find_debtor(session, who):
    """A debtor by id, E.164 phone or an account's external id; None when unknown."""
    from bot.models import Account

    who = (who or "").strip()
    if not who:
        return None
    if who.isdigit() and len(who) < 10:
        found = session.get(Debtor, int(who))
        if found is not None:
            return found
    found = session.execute(select(Debtor).where(Debtor.phone == who)).scalar_one_or_none()
    if found is not None:
        return found
    account = session.execute(
        select(Account).where(Account.external_id == who)
    ).scalar_one_or_none()
    return account.debtor if account is not None else None


def contact_log(session, debtor_id, since=None, until=None):
    """A debtor's contact log: every decision and outcome, oldest first."""
    stmt = select(ContactEvent).where(ContactEvent.debtor_id == debtor_id)
    if since:
        stmt = stmt.where(ContactEvent.at >= since)
    if until:
        stmt = stmt.where(ContactEvent.at < until)
    for e in session.execute(stmt.order_by(ContactEvent.at, ContactEvent.id)).scalars():
        yield {
            "at_utc": _stamp(e.at),
            "debtor_id": e.debtor_id,
            "purpose": e.purpose,
            "decision": e.action,
            "reason": e.reason or "",
            "rule": e.rule or "",
            "channel": e.channel or "",
            "template_key": e.template_key or "",
            "template_version": e.template_version or "",
            "locale": e.locale or "",
            "zones": e.zones or "",
            "local_times": e.local_times or "",
            "pack": e.pack or "",
            "next_at_utc": _stamp(e.next_at),
            "scheduled_id": e.scheduled_id or "",
            "message_id": e.message_id or "",
        }


def register(session, since=None):
    """The opt-out and consent register: every record with its evidence, oldest first."""
    stmt = select(ConsentRecord, Debtor).join(Debtor, Debtor.id == ConsentRecord.debtor_id)
    if since:
        stmt = stmt.where(ConsentRecord.recorded_at >= since)
    for record, debtor in session.execute(
        stmt.order_by(ConsentRecord.recorded_at, ConsentRecord.id)
    ).all():
        yield {
            "recorded_at_utc": _stamp(record.recorded_at),
            "debtor_id": debtor.id,
            "debtor_name": _text(debtor.full_name),
            "phone": debtor.phone,
            "channel": record.channel,
            "action": record.action,
            "scope": record.scope,
            "given_at_utc": _stamp(record.at),
            "method": record.method,
            "evidence": _text(record.evidence),
            "message_id": record.message_id or "",
            "recorded_by": record.recorded_by,
        }


def week_start(text=None, today=None):
    """The Monday of an ISO week given as 2026-W49 (default: the last full week)."""
    if text:
        try:
            return datetime.strptime(text + "-1", "%G-W%V-%u").date()
        except ValueError as exc:
            raise ValueError(f"{text!r} is not an ISO week like 2026-W49") from exc
    today = today or clock.utcnow().date()
    return today - timedelta(days=today.weekday() + 7)


def sent_contacts(session, since, until):
    """[(debtor, at, channel)]: proactive messages the provider accepted in [since, until)."""
    rows = session.execute(
        select(ContactEvent.at, ContactEvent.channel, Debtor)
        .join(Debtor, Debtor.id == ContactEvent.debtor_id)
        .where(ContactEvent.action == "sent", ContactEvent.purpose == "reminder")
        .where(ContactEvent.at >= since, ContactEvent.at < until)
        .order_by(ContactEvent.at)
    ).all()
    return [(debtor, at, channel) for at, channel, debtor in rows]


def weekly_report(session, monday):
    """Contacts per country and channel in the ISO week starting monday (UTC), against each
    country's rule: the busiest debtor per day and week, debtors over a cap, several channels,
    contacts closer than the gap and outside the allowed hours (in any plausible zone)."""
    since = datetime.combine(monday, datetime.min.time())
    until = since + timedelta(days=7)
    rules = load_rules(session, monday)
    contacts = sent_contacts(session, since - timedelta(days=7), until)
    by_country = defaultdict(list)
    for debtor, at, channel in contacts:
        by_country[debtor.country].append((debtor, at, channel))
    label = f"{monday:%G-W%V}"
    for country in sorted(by_country):
        items = by_country[country]
        week_items = [i for i in items if i[1] >= since]
        rule = rules.get(country)
        yield from _country_rows(label, country, rule, rules, items, week_items)


def _country_rows(label, country, rule, rules, items, week_items):
    per_debtor = defaultdict(list)
    for debtor, at, channel in items:
        per_debtor[debtor.id].append((debtor, at, channel))
    stats = {"day": 0, "week": 0, "over_day": 0, "over_week": 0, "channels": 0, "gap": 0}
    outside = 0
    this_week = set(week_items)  # membership per contact: a list made the report quadratic
    for debtor, at, _channel in week_items:
        debtor_rule = rules.get(country, debtor.region)
        zones = zones_for(debtor.phone, debtor.timezone, debtor_rule)
        if hours_block(debtor_rule, zones, at):
            outside += 1
    for history in per_debtor.values():
        debtor = history[0][0]
        debtor_rule = rules.get(country, debtor.region)
        zones = zones_for(debtor.phone, debtor.timezone, debtor_rule)
        in_week = [h for h in history if h in this_week]
        if not in_week:
            continue
        days = defaultdict(int)
        for _d, at, _c in in_week:
            for zone in zones:
                days[zone, clock.local_date(at, zone)] += 1
        busiest_day = max(days.values())
        busiest_week = max(
            sum(1 for _d, other, _c in history if at - timedelta(days=7) < other <= at)
            for _d, at, _c in in_week
        )
        stats["day"] = max(stats["day"], busiest_day)
        stats["week"] = max(stats["week"], busiest_week)
        if debtor_rule.max_per_day is not None and busiest_day > debtor_rule.max_per_day:
            stats["over_day"] += 1
        if debtor_rule.max_per_week is not None and busiest_week > debtor_rule.max_per_week:
            stats["over_week"] += 1
        if len({c for _d, _a, c in in_week}) > 1:
            stats["channels"] += 1
        if debtor_rule.min_gap_hours:
            gap = timedelta(hours=debtor_rule.min_gap_hours)
            moments = sorted(at for _d, at, _c in history)
            this_week = {at for _d, at, _c in in_week}
            pairs = zip(moments, moments[1:], strict=False)
            stats["gap"] += sum(1 for a, b in pairs if b - a < gap and b in this_week)
    channels = sorted({c for _d, _a, c in week_items})
    base = {"week": label, "country": country, "pack": rule.pack}
    yield base | {
        "channel": "all",
        "contacts": len(week_items),
        "debtors": len({d.id for d, _a, _c in week_items}),
        "max_per_debtor_day": stats["day"],
        "limit_per_day": _limit(rule.max_per_day),
        "debtors_over_day": stats["over_day"],
        "max_per_debtor_week": stats["week"],
        "limit_per_week": _limit(rule.max_per_week),
        "debtors_over_week": stats["over_week"],
        "debtors_on_several_channels": stats["channels"],
        "limit_channels_per_week": _limit(rule.max_channels_per_week),
        "min_gap_breaches": stats["gap"],
        "outside_allowed_hours": outside,
    }
    for channel in channels:
        on = [i for i in week_items if i[2] == channel]
        yield (
            {column: "" for column in REPORT_COLUMNS}
            | base
            | {
                "channel": channel,
                "contacts": len(on),
                "debtors": len({d.id for d, _a, _c in on}),
            }
        )


def _limit(value):
    return "none" if value is None else value


def retention_years(packs):
    """The longest retention any pack asks for, and never under MIN_RETENTION_YEARS."""
    asked = [p.legal(date.max).retention_years or 0 for p in packs.values()]
    return max([MIN_RETENTION_YEARS, *asked])


class RetentionError(ValueError):
    """A purge that would delete records younger than the packs require."""


def purge(session, before, packs, actor, now=None):
    """Delete contact-log rows older than before, never younger than the retention the packs
    ask for; the consent register is never purged. Returns the rows deleted (audited)."""
    now = now or clock.utcnow()
    years = retention_years(packs)
    day = 28 if (now.month, now.day) == (2, 29) else now.day
    limit = now.replace(year=now.year - years, day=day)
    if before > limit:
        raise RetentionError(
            f"records are kept {years} years: nothing younger than {limit:%Y-%m-%d} can go"
        )
    count = session.execute(
        select(func.count()).select_from(ContactEvent).where(ContactEvent.at < before)
    ).scalar()
    session.execute(delete(ContactEvent).where(ContactEvent.at < before))
    session.add(
        AuditEvent(
            actor=actor,
            action="compliance.purged",
            subject_type=ContactEvent.__tablename__,
            subject_id=f"before:{before:%Y-%m-%d}",
            data={"before": before.isoformat(), "rows": count, "retention_years": years},
        )
    )
    return count
