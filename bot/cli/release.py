"""The release step (Procfile `release`, `python -m bot.cli.release`): migrations, then seeds.

It needs the database and nothing else: DATABASE_URL (and APP_ENV, since production refuses
SQLite), not the Twilio, payment or Rasa secrets the app needs to serve, so a deploy's release
phase can run with only the database's credentials. The app is not built.

On PostgreSQL it holds an advisory lock while it migrates and seeds, so two releases started
together (two deploys, a retried one) run one after the other: the second waits, then finds the
database at head and adds nothing. SQLite needs no lock (one machine, one writer at a time).
`flask --app bot db-upgrade` (make migrate) runs the same steps under the same lock.
"""

import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from bot.config import ROOT, ConfigError, database_url

# pg_advisory_lock's key for "a release is migrating": any constant no other code uses.
RELEASE_LOCK_KEY = 0x636F6272616E7A61  # "cobranza"
DEFAULT_LOCK_TIMEOUT = 600


class ReleaseError(RuntimeError):
    """The release could not run (another one held the lock too long)."""


def alembic_config(url):
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


@contextmanager
def release_lock(engine, timeout=DEFAULT_LOCK_TIMEOUT, say=None, interval=1.0):
    """One release at a time on PostgreSQL: a session advisory lock held on its own
    connection (released when that connection closes, even if this process dies)."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        deadline = time.monotonic() + timeout
        waiting = False
        say = say or _say
        while not conn.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": RELEASE_LOCK_KEY}
        ).scalar():
            if not waiting:
                say("another release is migrating this database: waiting for it to finish")
                waiting = True
            if time.monotonic() > deadline:
                raise ReleaseError(
                    f"another release has held the migration lock for over {timeout:g} s; "
                    "check for a stuck release (pg_locks, locktype 'advisory') and retry"
                )
            time.sleep(interval)
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": RELEASE_LOCK_KEY})


def _say(message):
    print(message, flush=True)


def run(url, timeout=DEFAULT_LOCK_TIMEOUT, say=_say):
    """Migrate to head, then add new seed templates and payment methods; returns what was
    seeded as (templates, methods)."""
    from alembic import command

    from bot.payments import rails
    from bot.templates import store as templates

    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True)
    try:
        with release_lock(engine, timeout, say):
            command.upgrade(alembic_config(url), "head")
            with Session(engine, future=True) as session:
                added = templates.seed(session)
                methods = rails.seed(session)
    finally:
        engine.dispose()
    say(f"database at head; {added} template version(s) and {methods} payment method(s) seeded")
    return added, methods


def main():
    raw = os.environ.get("RELEASE_LOCK_TIMEOUT", "").strip() or str(DEFAULT_LOCK_TIMEOUT)
    try:
        timeout = float(raw)
    except ValueError:
        sys.exit(f"release failed: RELEASE_LOCK_TIMEOUT must be seconds, not {raw!r}")
    try:
        run(database_url(), timeout)
    except (ConfigError, ReleaseError) as exc:
        sys.exit(f"release failed: {exc}")


if __name__ == "__main__":
    main()
