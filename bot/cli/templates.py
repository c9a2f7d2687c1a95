"""Message templates between environments: one YAML file, checked in full first."""

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from bot.db import session
from bot.templates import admin as template_admin
from bot.templates import exchange


@click.command("export-templates")
@with_appcontext
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def export_templates_command(path):
    """Write every key's live texts per locale to a YAML file (for review or another env)."""
    path.write_text(exchange.export_yaml(session()), encoding="utf-8")
    click.echo(f"wrote {path}")


@click.command("import-templates")
@with_appcontext
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_templates_command(path):
    """Load an exported YAML file: all or nothing; only changed texts get a new version."""
    s = session()
    try:
        result = exchange.import_yaml(s, path.read_text(encoding="utf-8-sig"), None)
    except template_admin.TemplateValidationError as exc:
        for problem in exc.problems:
            click.echo(f"{path.name}: {problem}", err=True)
        click.echo("nothing imported", err=True)
        sys.exit(1)
    s.commit()
    for key, locale, version in result.changed:
        click.echo(f"{key} ({locale}): version {version}")
    click.echo(f"{len(result.changed)} changed, {result.unchanged} unchanged")
