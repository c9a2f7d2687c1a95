"""Command-line interface: `flask --app bot <command>`."""

import sys
from pathlib import Path

import click
from flask import current_app

from .config import ROOT
from .db import session


def init_app(app):
    for command in (import_debts, db_upgrade, seed_templates, load_demo, worker, sweep_command):
        app.cli.add_command(command)


@click.command("import-debts")
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
def seed_templates():
    """Load templates from bot/message_templates that are new or changed since the last seed."""
    from .services import templates

    click.echo(f"{templates.seed(session())} template version(s) seeded")


@click.command("load-demo")
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
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--simple", is_flag=True, help="Run jobs in this process instead of forking.")
def worker(burst, simple):
    """Run an RQ worker (with the scheduler) on all queues, with the app preloaded."""
    from rq import SimpleWorker, Worker

    from . import jobs, queues

    # Jobs reuse this app: imports and connection set-up happen once, not once per job.
    jobs.set_job_app(current_app._get_current_object())
    jobs.schedule_sweep()
    cls = SimpleWorker if simple else Worker
    w = cls([queues.queue(name) for name in queues.ALL], connection=queues.redis_conn())
    w.work(burst=burst, with_scheduler=True, logging_level=current_app.config["LOG_LEVEL"])


@click.command("sweep")
def sweep_command():
    """Re-enqueue inbound messages left unprocessed (also runs inside every worker)."""
    from . import jobs

    click.echo(f"{jobs.sweep()} message(s) re-enqueued")
