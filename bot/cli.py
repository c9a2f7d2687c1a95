"""Command-line interface: `flask --app bot <command>`."""

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from .config import ROOT
from .db import session


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
    )
    for command in commands:
        app.cli.add_command(command)


@click.command("import-debts")
@with_appcontext
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_debts(path):
    """Import debts from a CSV file; bad rows are reported by line, good rows load."""
    from .services.imports import import_csv

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

    from .services import templates

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
    from .services import templates

    click.echo(f"{templates.seed(session())} template version(s) seeded")


@click.command("load-demo")
@with_appcontext
def load_demo():
    """Load the demo debtors (bot/demo/debtors.csv) used by sandbox mode and the simulator."""
    from .sandbox import DEMO_CSV
    from .services.imports import import_csv

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
    from . import jobs
    from .worker import build

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
    from . import jobs

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
    from .services.users import UserError
    from .services.users import create_user as create

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
    from .services import audit
    from .services.users import find

    s = session()
    user = find(s, email)
    if user is None:
        raise click.ClickException(f"no console user {email!r}")
    user.active = False
    audit.record(s, "cli", "user.deactivated", user, {})
    s.commit()
    click.echo(f"deactivated {user.email}; an admin can take over the conversations they hold")
