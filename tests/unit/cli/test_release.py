"""The release step: migrations and seeds with nothing but the database, one release at a time
on PostgreSQL (a real server, bot.testing.postgres), SQLite refused in production."""

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from bot.cli import release
from bot.config import ROOT
from bot.testing import wait_for


def head(url):
    return ScriptDirectory.from_config(release.alembic_config(url)).get_current_head()


def state(url):
    """(alembic revision, template versions (text and e-mail), payment methods) of a database."""
    engine = create_engine(url, future=True)
    try:
        with engine.connect() as conn:
            return (
                conn.execute(text("SELECT version_num FROM alembic_version")).scalar(),
                conn.execute(text("SELECT count(*) FROM message_templates")).scalar()
                + conn.execute(text("SELECT count(*) FROM email_templates")).scalar(),
                conn.execute(text("SELECT count(*) FROM rail_methods")).scalar(),
            )
    finally:
        engine.dispose()


def release_process(url, app_env="production", stdout=subprocess.PIPE, **extra):
    """`python -m bot.cli.release` with only the database in its environment: no secret."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "APP_ENV": app_env}
    if url is not None:
        env["DATABASE_URL"] = url
    env.update(extra)
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli.release"],
        cwd=ROOT,
        env=env,
        stdout=stdout,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(proc, timeout=180):
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out or ""


def test_a_release_on_sqlite_migrates_then_seeds_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'instance' / 'bot.db'}"
    said = []
    templates, methods = release.run(url, say=said.append)
    assert templates > 0 and methods > 0
    assert state(url) == (head(url), templates, methods)
    assert said == [
        f"database at head; {templates} template version(s) and {methods} payment method(s) seeded"
    ]
    # Run again (a redeploy): nothing to migrate, nothing new to seed.
    assert release.run(url, say=said.append) == (0, 0)
    assert state(url) == (head(url), templates, methods)


@pytest.mark.parametrize(
    "url, message",
    [
        (None, "DATABASE_URL is not set: production needs a PostgreSQL database"),
        ("sqlite:///{tmp}/bot.db", "DATABASE_URL names a sqlite database: production needs"),
    ],
)
def test_a_production_release_refuses_sqlite(tmp_path, url, message):
    url = url and url.format(tmp=tmp_path)
    code, out = finish(release_process(url))
    assert code == 1
    assert f"release failed: {message}" in out
    assert list(tmp_path.iterdir()) == []  # no SQLite file was made


def test_a_bad_lock_timeout_is_named(tmp_path):
    code, out = finish(
        release_process(f"sqlite:///{tmp_path}/bot.db", "development", RELEASE_LOCK_TIMEOUT="ten")
    )
    assert code == 1 and "RELEASE_LOCK_TIMEOUT must be seconds, not 'ten'" in out


def test_a_production_release_on_postgresql_needs_only_the_database(postgres):
    url = postgres.create_database()
    code, out = finish(release_process(url))
    assert code == 0, out
    revision, templates, methods = state(url)
    assert revision == head(url) and templates > 0 and methods > 0
    assert f"{templates} template version(s) and {methods} payment method(s) seeded" in out


def test_a_release_waits_while_another_holds_the_lock(postgres, tmp_path):
    url = postgres.create_database()
    engine = create_engine(url, future=True, isolation_level="AUTOCOMMIT")
    log = tmp_path / "release.log"
    with engine.connect() as other, log.open("w") as out:
        other.execute(text("SELECT pg_advisory_lock(:k)"), {"k": release.RELEASE_LOCK_KEY})
        proc = release_process(url, stdout=out)
        try:
            wait_for(lambda: "waiting for it to finish" in log.read_text(), 60, what="waiting")
            # Still nothing migrated while the other release holds the lock.
            assert other.execute(text("SELECT to_regclass('alembic_version')")).scalar() is None
        finally:
            other.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": release.RELEASE_LOCK_KEY})
        assert proc.wait(timeout=180) == 0, log.read_text()
    engine.dispose()
    assert state(url)[0] == head(url)


def test_two_releases_at_once_migrate_one_after_the_other(postgres):
    url = postgres.create_database()
    procs = [release_process(url) for _ in range(2)]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(finish, procs))
    assert [code for code, _ in results] == [0, 0], results
    revision, templates, methods = state(url)
    assert revision == head(url)
    # One of them seeded everything, the other found it there.
    seeded = sorted(out.split("database at head; ")[1].strip() for _, out in results)
    assert seeded == [
        "0 template version(s) and 0 payment method(s) seeded",
        f"{templates} template version(s) and {methods} payment method(s) seeded",
    ]


def test_the_lock_gives_up_after_its_timeout(postgres):
    url = postgres.create_database()
    engine = create_engine(url, future=True, isolation_level="AUTOCOMMIT")
    said = []
    with engine.connect() as other:
        other.execute(text("SELECT pg_advisory_lock(:k)"), {"k": release.RELEASE_LOCK_KEY})
        with pytest.raises(release.ReleaseError, match="held the migration lock for over 0.2 s"):
            with release.release_lock(engine, timeout=0.2, say=said.append, interval=0.05):
                pytest.fail("entered while another release held the lock")
    engine.dispose()
    assert said == ["another release is migrating this database: waiting for it to finish"]
