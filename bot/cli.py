"""Command-line interface: `flask --app bot <command>`."""

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from bot.config import ROOT
from bot.db import session


def init_app(app):
    commands = (
        import_debts,
        db_upgrade,
        seed_templates,
        load_demo,
        worker,
        sweep_command,
        dev_redis,
        announce,
        rasa_token,
        create_user,
        deactivate_user,
        reminders_group,
        campaign_group,
    )
    for command in commands:
        app.cli.add_command(command)


@click.command("import-debts")
@with_appcontext
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_debts(path):
    """Import debts from a CSV file; bad rows are reported by line, good rows load."""
    from bot.debts.imports import import_csv

    with path.open("rb") as fh:
        report = import_csv(session(), fh)
    for line, reason in report.errors:
        click.echo(f"{path.name}:{line}: {reason}", err=True)
    click.echo(report.summary())
    if report.rejected:
        sys.exit(1 if not (report.created or report.updated or report.unchanged) else 0)


def alembic_config():
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", current_app.config["DATABASE_URL"].replace("%", "%%"))
    return cfg


@click.command("db-upgrade")
@with_appcontext
def db_upgrade():
    """Apply migrations and load new seed templates (the release step)."""
    from alembic import command

    from bot.templates import store as templates

    if current_app.config["DATABASE_URL"].startswith("sqlite:///"):
        Path(current_app.config["DATABASE_URL"][len("sqlite:///") :]).parent.mkdir(
            parents=True, exist_ok=True
        )
    command.upgrade(alembic_config(), "head")
    added = templates.seed(session())
    click.echo(f"database at head; {added} template version(s) seeded")


@click.command("seed-templates")
@with_appcontext
def seed_templates():
    """Load templates from bot/message_templates that are new or changed since the last seed."""
    from bot.templates import store as templates

    click.echo(f"{templates.seed(session())} template version(s) seeded")


@click.command("load-demo")
@with_appcontext
def load_demo():
    """Load the demo debtors (bot/demo/debtors.csv) used by sandbox mode and the simulator."""
    from bot.debts.imports import import_csv
    from bot.web.sandbox import DEMO_CSV

    with DEMO_CSV.open("rb") as fh:
        report = import_csv(session(), fh)
    for line, reason in report.errors:
        click.echo(f"{DEMO_CSV.name}:{line}: {reason}", err=True)
    click.echo(f"demo debtors: {report.summary()}")


@click.command("worker")
@with_appcontext
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option(
    "--fork",
    is_flag=True,
    help="Fork a work-horse per job (RQ's default). Isolates crashes, costs ~50 ms a job.",
)
def worker(burst, fork):
    """Run an RQ worker (with RQ's scheduler and the sweep) on all queues, app preloaded."""
    from bot.tasks import jobs
    from bot.tasks.worker import build

    app = current_app._get_current_object()
    _wait_for_redis(app.config["REDIS_URL"])
    # Jobs reuse this app: imports and connection pools are set up once, not once per job.
    jobs.set_job_app(app)
    w = build(app, fork=fork)
    w.work(burst=burst, with_scheduler=True, logging_level=app.config["LOG_LEVEL"])


def _wait_for_redis(url, timeout=30):
    """Give a Redis that starts alongside the worker (make run) a moment to come up."""
    import time

    from redis import Redis
    from redis.exceptions import RedisError

    deadline = time.monotonic() + timeout
    while True:
        try:
            Redis.from_url(url, socket_connect_timeout=1).ping()
            return
        except RedisError as exc:
            if time.monotonic() > deadline:
                raise click.ClickException(f"Redis at REDIS_URL is not reachable: {exc}") from None
            time.sleep(0.5)


@click.command("rasa-token")
@with_appcontext
def rasa_token():
    """Print the token for Rasa's HTTP API (RASA_TOKEN, or the development one derived from
    SECRET_KEY), so that Rasa and the worker agree on it."""
    click.echo(current_app.config["RASA_TOKEN"])


@click.command("sweep")
@with_appcontext
def sweep_command():
    """Re-enqueue inbound messages left unprocessed (also runs inside every worker)."""
    from bot.tasks import jobs

    click.echo(f"{jobs.sweep()} message(s) re-enqueued")


@click.command("dev-redis")
@with_appcontext
def dev_redis():
    """Run a local redis-server for REDIS_URL's port, or reuse one already answering there."""
    import os
    import shutil
    import time
    from urllib.parse import urlparse

    from redis import Redis
    from redis.exceptions import RedisError

    url = current_app.config["REDIS_URL"]
    try:
        Redis.from_url(url, socket_connect_timeout=1).ping()
    except RedisError:
        server = shutil.which("redis-server")
        if not server:
            raise click.ClickException(
                "redis-server is not installed (apt-get install redis-server)"
            ) from None
        port = str(urlparse(url).port or 6379)
        os.execv(server, [server, "--port", port, "--save", "", "--appendonly", "no"])
    click.echo(f"using the Redis already running at {url}")
    while True:
        time.sleep(3600)


@click.command("announce")
@with_appcontext
@click.option("--timeout", default=180, help="Seconds to wait for the stack.")
def announce(timeout):
    """Wait until web and Rasa answer, then print the simulator URL."""
    import time

    import requests

    base = current_app.config["PUBLIC_BASE_URL"]
    checks = {"web": base + "/healthz", "rasa": current_app.config["RASA_URL"] + "/version"}
    deadline = time.monotonic() + timeout
    pending = dict(checks)
    while pending and time.monotonic() < deadline:
        for name, url in list(pending.items()):
            try:
                if requests.get(url, timeout=2).ok:
                    pending.pop(name)
            except requests.RequestException:
                pass
        time.sleep(1)
    if pending:
        click.echo(f"still waiting for: {', '.join(pending)} (see their logs above)")
    else:
        mode = "sandbox (no Twilio credentials)" if current_app.config["SANDBOX"] else "live Twilio"
        click.echo(f"Ready in {mode} mode. Simulator: {base}/simulator")
        click.echo(
            f"Consoles: {base}/console/ (a user first: "
            ".venv/bin/flask --app bot create-user you@example.com --role admin)"
        )
    while True:
        time.sleep(3600)


@click.command("create-user")
@with_appcontext
@click.argument("email")
@click.option("--role", type=click.Choice(["agent", "admin"]), required=True)
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    envvar="CONSOLE_PASSWORD",
    help="Prompted for when not given (or set CONSOLE_PASSWORD); at least 12 characters.",
)
def create_user(email, role, password):
    """Create a console user (agent or admin), or reset an existing one's password and role."""
    from bot.users import UserError
    from bot.users import create_user as create

    s = session()
    try:
        user, created = create(s, email, password, role)
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    s.commit()
    click.echo(f"{'created' if created else 'updated'} {role} {user.email}")


@click.command("deactivate-user")
@with_appcontext
@click.argument("email")
def deactivate_user(email):
    """Stop a console user from signing in; their open sessions end at their next request."""
    from bot import audit
    from bot.users import find

    s = session()
    user = find(s, email)
    if user is None:
        raise click.ClickException(f"no console user {email!r}")
    user.active = False
    audit.record(s, "cli", "user.deactivated", user, {})
    s.commit()
    click.echo(f"deactivated {user.email}; an admin can take over the conversations they hold")


# -- reminders and campaigns (issue 5) ----------------------------------------------------------


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
    from bot.reminders import reminders

    click.echo(reminders.plan(session(), only_segment=segment).summary())


@reminders_group.command("dispatch")
@with_appcontext
@click.option("--dry-run", is_flag=True, help="Gate and count, change nothing, send nothing.")
def reminders_dispatch(dry_run):
    """Gate the reminders that are due; enqueue the allowed, defer or suppress the rest."""
    from bot.reminders import reminders
    from bot.tasks.jobs import reminders_lock

    with reminders_lock():
        click.echo(reminders.dispatch(session(), dry_run=dry_run).summary())


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
    from bot.reminders import reminders

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
        reminders.validate_segment(data)
    except reminders.ReminderError as exc:
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
    """List the contact rules by country ("*" is the default)."""
    import json

    from bot.models import ContactRule

    for rule in session().execute(select_all(ContactRule, ContactRule.country)).scalars():
        click.echo(
            f"{rule.country:2s} hours={json.dumps(rule.hours)} holidays_off={rule.skip_holidays} "
            f"per_day={rule.max_per_day} per_week={rule.max_per_week} "
            f"gap_h={rule.min_gap_hours} sms_fallback={rule.sms_fallback} "
            f"tz={rule.default_timezone or '-'}"
        )


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
def reminders_rule_set(country, **options):
    """Create or change a country's contact rule."""
    from bot import audit
    from bot.models import ContactRule
    from bot.reminders import gate

    country = country.upper() if country != "*" else country
    s = session()
    rule = s.get(ContactRule, country)
    base = gate.DEFAULT_RULES[-1]
    current = {k: getattr(rule, k) for k in base} if rule else dict(base, country=country)
    if options.get("hours"):
        options["hours"] = _json_option(options["hours"], "hours")
    changes = {k: v for k, v in options.items() if v is not None}
    data = current | changes
    try:
        gate.Rule.from_dict(data)
    except gate.RuleError as exc:
        raise click.BadParameter(str(exc)) from None
    if rule is None:
        rule = ContactRule(country=country)
        s.add(rule)
    for key, value in data.items():
        setattr(rule, key, value)
    audit.record(s, "cli", "contact_rule.changed", rule, changes)
    s.commit()
    click.echo(f"contact rule {country} saved")


@reminders_group.command("template-sid")
@with_appcontext
@click.argument("key")
@click.argument("content_sid", required=False)
@click.option("--variables", help='Slots to variables, JSON: {"1": "first_name", "2": "amount"}')
def reminders_template_sid(key, content_sid, variables):
    """Link a template key to its approved WhatsApp template (Content SID); no SID unlinks."""
    from bot.templates import admin as template_admin

    s = session()
    try:
        template_admin.link_content_sid(s, key, content_sid, variables, "cli")
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
    from bot.reminders import reminders

    s = session()
    try:
        if dry_run:
            report = reminders.schedule_campaign(s, name, template_key, segment, dry_run=True)
            click.echo(f"dry run: {report.summary()}")
            return
        planned = reminders.schedule_campaign(s, name, template_key, segment)
    except reminders.ReminderError as exc:
        raise click.BadParameter(str(exc)) from None
    click.echo(planned.summary())
    from bot.tasks.jobs import reminders_lock

    with reminders_lock():
        click.echo(reminders.dispatch(s, step_prefix=f"campaign:{name}").summary())
