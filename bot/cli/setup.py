"""Set-up commands: migrations and seeds, the demo, debt import, a development Redis."""

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from bot.config import ROOT
from bot.db import session


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
    """Apply migrations and load new seed templates and payment methods (the release step)."""
    from alembic import command

    from bot.payments import rails
    from bot.templates import store as templates

    if current_app.config["DATABASE_URL"].startswith("sqlite:///"):
        Path(current_app.config["DATABASE_URL"][len("sqlite:///") :]).parent.mkdir(
            parents=True, exist_ok=True
        )
    command.upgrade(alembic_config(), "head")
    added = templates.seed(session())
    methods = rails.seed(session())
    click.echo(
        f"database at head; {added} template version(s) and {methods} payment method(s) seeded"
    )


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
    if current_app.config["SANDBOX"]:
        from bot.payments import rails

        click.echo(f"demo payment methods: {rails.load_demo(session())} filled")


@click.command("rasa-token")
@with_appcontext
def rasa_token():
    """Print the token for Rasa's HTTP API (RASA_TOKEN, or the development one derived from
    SECRET_KEY), so that Rasa and the worker agree on it."""
    click.echo(current_app.config["RASA_TOKEN"])


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
