"""Database engine and the per-request / per-job session."""

import os

from flask import current_app, g
from sqlalchemy import create_engine, event
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool


class Database:
    """One engine and session factory per app; sessions live for one app context."""

    def __init__(self, url):
        kwargs = {"future": True, "pool_pre_ping": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
            if ":memory:" not in url and url.rstrip("/") != "sqlite:":
                # SQLAlchemy 1.4 opens and closes a file database's connection per session
                # (NullPool): closing the last one checkpoints the WAL, and every request
                # paid ~40 ms of disk for it. Pooled, an acknowledgement is a plain commit.
                kwargs["poolclass"] = QueuePool
        self.engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.Session = sessionmaker(self.engine, future=True, expire_on_commit=False)
        # A forked RQ work-horse must not reuse the parent's pooled connections.
        os.register_at_fork(after_in_child=lambda: self.engine.dispose(close=False))

    def init_app(self, app):
        app.extensions["db"] = self
        app.teardown_appcontext(_close_session)


def _sqlite_pragmas(dbapi_conn, _record):
    cur = dbapi_conn.cursor()
    # WAL lets the web, worker and action processes read while one writes.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def get_db():
    return current_app.extensions["db"]


def session():
    """The session of the current app context (request or job), created on first use."""
    if "db_session" not in g:
        g.db_session = get_db().Session()
    return g.db_session


def _close_session(_exc):
    s = g.pop("db_session", None)
    if s is not None:
        s.close()
