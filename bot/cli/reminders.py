"""Reminders, segments, contact rules and campaigns."""

import click
from flask.cli import with_appcontext

from bot.contact import rules
from bot.db import session
from bot.reminders import campaigns, dispatching, planning, segments
from bot.tasks.periodic import reminders_lock


def _json_option(text, what):
    import json

    try:
        return json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"{what} must be JSON: {exc}") from None


def _cadence(text):
    """ "due:-3,due:0,installment:0" or JSON -> [{"kind", "offset"}]."""
    if text.strip().startswith("["):
        return _json_option(text, "cadence")
    steps = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, _, offset = part.partition(":")
        try:
            steps.append({"kind": kind, "offset": int(offset)})
        except ValueError:
            raise click.BadParameter(f"{part!r} is not kind:days, like due:-3") from None
    return steps


@click.group("reminders")
def reminders_group():
    """Proactive reminders: plan, dispatch, segments and contact rules."""


@reminders_group.command("plan")
@with_appcontext
@click.option("--segment", help="Only this segment.")
def reminders_plan(segment):
    """Plan today's cadence steps for every collectible account (idempotent)."""
    click.echo(planning.plan(session(), only_segment=segment).summary())


@reminders_group.command("dispatch")
@with_appcontext
@click.option("--dry-run", is_flag=True, help="Gate and count, change nothing, send nothing.")
def reminders_dispatch(dry_run):
    """Gate the reminders that are due; enqueue the allowed, defer or suppress the rest."""
    with reminders_lock():
        click.echo(dispatching.dispatch(session(), dry_run=dry_run).summary())


@reminders_group.command("segments")
@with_appcontext
def reminders_segments():
    """List the segments in priority order (the first whose criteria match wins)."""
    import json

    from bot.models import Segment

    rows = session().execute(select_all(Segment, Segment.priority)).scalars()
    for seg in rows:
        cadence = ",".join(f"{s['kind']}:{s['offset']}" for s in seg.cadence)
        click.echo(
            f"{seg.priority:5d} {seg.name:20s} {'active' if seg.active else 'inactive':8s} "
            f"tone={seg.tone} offer={seg.offer or '-'} criteria={json.dumps(seg.criteria)} "
            f"cadence={cadence}"
        )


def select_all(model, order):
    from sqlalchemy import select

    return select(model).order_by(order)


@reminders_group.command("segment-set")
@with_appcontext
@click.argument("name")
@click.option("--priority", type=int)
@click.option("--criteria", help='JSON, e.g. {"min_days_overdue": 31}')
@click.option("--cadence", help="kind:days list, e.g. due:-3,due:0,due:7,installment:0")
@click.option("--tone", help="Template variant: friendly, firm, ...")
@click.option("--offer", type=click.Choice(["none", "plan", "discount"]))
@click.option("--active/--inactive", default=None)
def reminders_segment_set(name, priority, criteria, cadence, tone, offer, active):
    """Create or change a segment."""
    from bot import audit
    from bot.models import Segment

    s = session()
    seg = s.get(Segment, name)
    created = seg is None
    if created:
        seg = Segment(name=name, priority=100, criteria={}, cadence=[], tone="friendly")
    data = {
        "criteria": _json_option(criteria, "criteria") if criteria else seg.criteria,
        "cadence": _cadence(cadence) if cadence is not None else seg.cadence,
        "tone": tone or seg.tone,
        "offer": (None if offer == "none" else offer) if offer else seg.offer,
    }
    try:
        segments.validate_segment(data)
    except segments.ReminderError as exc:
        raise click.BadParameter(str(exc)) from None
    for key, value in data.items():
        setattr(seg, key, value)
    if priority is not None:
        seg.priority = priority
    if active is not None:
        seg.active = active
    s.add(seg)
    audit.record(s, "cli", "segment.created" if created else "segment.changed", seg, data)
    s.commit()
    click.echo(f"segment {name} {'created' if created else 'changed'}")


@reminders_group.command("rules")
@with_appcontext
def reminders_rules():
    """The rule each country's messages follow: the law (pack) and the creditor's policy,
    the stricter of both, with where each setting comes from."""
    import json

    from bot.contact.packs import DAYS
    from bot.models import ContactRule

    s = session()
    table = rules.load_rules(s)
    countries = sorted(
        {
            *table.packs,
            *(r.country for r in s.execute(select_all(ContactRule, ContactRule.country)).scalars()),
        }
    )
    for country in countries:
        rule = table.get(country)
        hours = {DAYS[d]: [f"{o:%H:%M}", f"{c:%H:%M}"] for d, (o, c) in sorted(rule.hours.items())}
        click.echo(
            f"{country:2s} {rule.pack} hours={json.dumps(hours)} holidays_off={rule.skip_holidays} "
            f"per_day={rule.max_per_day} per_week={rule.max_per_week} gap_h={rule.min_gap_hours} "
            f"channels_per_week={rule.max_channels_per_week} consent={rule.consent_required} "
            f"opt_out_line={rule.opt_out_line_required} sms_fallback={rule.sms_fallback}"
        )
        for setting, source in sorted(rule.sources.items()):
            click.echo(f"     {setting}: {source}")


@reminders_group.command("rule-set")
@with_appcontext
@click.argument("country")
@click.option("--hours", help='JSON, e.g. {"mon": ["07:00", "19:00"], "sat": ["08:00", "15:00"]}')
@click.option("--skip-holidays/--contact-on-holidays", default=None)
@click.option("--max-per-day", type=int)
@click.option("--max-per-week", type=int)
@click.option("--min-gap-hours", type=int)
@click.option("--sms-fallback/--no-sms-fallback", default=None)
@click.option("--timezone", "default_timezone")
@click.option("--regime", help="Which of the pack's regimes applies (MX: condusef_financial, ...)")
@click.option("--require-consent/--no-require-consent", default=None)
def reminders_rule_set(country, **options):
    """Create or change the creditor's contact policy for a country. It can only make the
    law (the country pack) stricter: a looser setting is stored but the law still applies."""
    from bot import audit
    from bot.models import ContactRule

    country = country.upper() if country != "*" else country
    s = session()
    rule = s.get(ContactRule, country)
    base = rules.DEFAULT_POLICIES[-1]
    fields = [f for f in rules.POLICY_FIELDS if f != "country"]
    current = {k: getattr(rule, k) for k in fields} if rule else {k: base.get(k) for k in fields}
    current["country"] = country
    if options.get("hours"):
        options["hours"] = _json_option(options["hours"], "hours")
    changes = {k: v for k, v in options.items() if v is not None}
    data = current | changes
    data["require_consent"] = bool(data.get("require_consent"))
    try:
        policy = rules.Policy.from_dict(data)
        table = rules.load_rules(s)
        pack = table.pack(country)
        rules.combine(pack, policy, table.day, country=country)
    except rules.RuleError as exc:
        raise click.BadParameter(str(exc)) from None
    if rule is None:
        rule = ContactRule(country=country)
        s.add(rule)
    for key, value in data.items():
        setattr(rule, key, value)
    audit.record(s, "cli", "contact_rule.changed", rule, changes)
    s.commit()
    click.echo(f"contact policy {country} saved (the stricter of it and {pack.tag} applies)")


@reminders_group.command("template-sid")
@with_appcontext
@click.argument("key")
@click.argument("content_sid", required=False)
@click.option("--variables", help='Slots to variables, JSON: {"1": "first_name", "2": "amount"}')
def reminders_template_sid(key, content_sid, variables):
    """Link a template key to its approved WhatsApp template (Content SID); no SID unlinks."""
    from bot.templates import admin as template_admin
    from bot.templates import approved

    s = session()
    try:
        approved.link_content_sid(s, key, content_sid, variables, "cli")
    except LookupError:
        raise click.BadParameter(f"unknown template key {key!r}") from None
    except template_admin.TemplateValidationError as exc:
        raise click.BadParameter("; ".join(exc.problems)) from None
    s.commit()
    click.echo(f"{key}: {content_sid or 'no approved template'}")


@click.group("campaign")
def campaign_group():
    """One-off campaigns, gated like every proactive message."""


@campaign_group.command("run")
@with_appcontext
@click.option("--name", required=True, help="Campaign name; running it again adds nobody twice.")
@click.option("--template", "template_key", required=True, help="Template key to send.")
@click.option("--segment", help="Only accounts in this segment.")
@click.option("--dry-run", is_flag=True, help="Count who would get it; plan and send nothing.")
def campaign_run(name, template_key, segment, dry_run):
    """Plan a campaign for a segment, then gate and enqueue it (streamed, bounded memory)."""
    s = session()
    try:
        if dry_run:
            report = campaigns.schedule_campaign(s, name, template_key, segment, dry_run=True)
            click.echo(f"dry run: {report.summary()}")
            return
        planned = campaigns.schedule_campaign(s, name, template_key, segment)
    except segments.ReminderError as exc:
        raise click.BadParameter(str(exc)) from None
    click.echo(planned.summary())
    with reminders_lock():
        click.echo(dispatching.dispatch(s, step_prefix=f"campaign:{name}").summary())
