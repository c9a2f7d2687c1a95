"""Where each test's database comes from: a migrated template, copied per test.

TEST_DATABASE chooses the engine for the whole run: `sqlite` (default; a file copied per test)
or `postgresql` (a throwaway PostgreSQL server for the session; each test gets
`CREATE DATABASE ... TEMPLATE` of a database migrated once). `make test` runs the suite on both.
"""

import os
import shutil
import uuid

from sqlalchemy import create_engine, text

from bot import create_app

ENGINE = os.environ.get("TEST_DATABASE", "sqlite")
ENGINES = ("sqlite", "postgresql")


def migrate(url):
    app = create_app({"DATABASE_URL": url, "APP_ENV": "test"})
    result = app.test_cli_runner().invoke(args=["db-upgrade"])
    assert result.exit_code == 0, result.output
    app.extensions["db"].engine.dispose()


class SqliteDatabases:
    engine = "sqlite"

    def __init__(self, folder):
        self.folder = folder
        self.template = folder / "template.db"
        migrate(f"sqlite:///{self.template}")

    def new(self, folder=None):
        path = (folder or self.folder) / f"bot-{uuid.uuid4().hex[:8]}.db"
        shutil.copy(self.template, path)
        return f"sqlite:///{path}"

    def drop(self, url):
        path = url.removeprefix("sqlite:///")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)


class PostgresDatabases:
    engine = "postgresql"

    def __init__(self, server):
        self.server = server
        self.admin = create_engine(server.url(), future=True, isolation_level="AUTOCOMMIT")
        url = server.create_database()
        migrate(url)
        self.template = url.rsplit("/", 1)[1]
        with self.admin.connect() as conn:
            # A copy needs the template to have no session open (the CLI's engine may linger).
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": self.template},
            )

    def new(self, folder=None):
        name = "t_" + uuid.uuid4().hex[:12]
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
        return self.server.url(name)

    def drop(self, url):
        name = url.rsplit("/", 1)[1]
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
