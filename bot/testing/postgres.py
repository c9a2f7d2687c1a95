"""A throwaway PostgreSQL cluster for tests that claim production behaviour (Debian's
postgresql package: `make postgres` installs it). initdb in a scratch folder, trust
authentication on 127.0.0.1 only, fsync off; stopped and deleted afterwards. As root (CI
containers) the server runs as the `postgres` user, which PostgreSQL requires."""

import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from bot.testing.stack import free_port


class PostgresUnavailable(RuntimeError):
    """PostgreSQL's server binaries are not installed."""


def bin_dir():
    """The folder of initdb and pg_ctl: on PATH, else Debian's newest /usr/lib/postgresql."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3])
    )
    if not versions:
        raise PostgresUnavailable(
            "PostgreSQL is not installed: run `make postgres` (Debian package postgresql)"
        )
    return versions[-1].parent


class Postgres:
    def __init__(self):
        self.bin = bin_dir()
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="bot-postgres-"))
        self.as_user = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _pg(self, *args):
        subprocess.run(
            [*self.as_user, *args], check=True, capture_output=True, cwd=self.dir, timeout=120
        )

    def start(self):
        data = self.dir / "data"
        self._pg(
            str(self.bin / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        self._pg(
            str(self.bin / "pg_ctl"), "-D", str(data), "-o", options,
            "-l", str(self.dir / "server.log"), "-w", "start",
        )  # fmt: skip
        return self

    def url(self, database="postgres"):
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self):
        """A new empty database; its URL."""
        name = "t_" + uuid.uuid4().hex[:12]
        engine = create_engine(self.url(), future=True, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            engine.dispose()
        return self.url(name)

    def stop(self):
        try:
            self._pg(str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast", "stop")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.dir, ignore_errors=True)
