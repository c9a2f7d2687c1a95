"""Console users: create, reset, deactivate."""

import click
from flask.cli import with_appcontext

from bot.db import session


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
