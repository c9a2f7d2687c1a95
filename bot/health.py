"""Readiness: can this process do its work now? (Liveness is simpler: it answers at all.)

Web and workers both need the database and Redis; each check is short and bounded, so a
probe never hangs behind a dependency that does not answer."""

from flask import current_app
from redis import Redis
from sqlalchemy import text

from bot.db import get_db

REDIS_TIMEOUT = 2  # seconds


def _database():
    with get_db().engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _redis():
    client = current_app.extensions.get("health_redis")
    if client is None:
        client = Redis.from_url(
            current_app.config["REDIS_URL"],
            socket_timeout=REDIS_TIMEOUT,
            socket_connect_timeout=REDIS_TIMEOUT,
        )
        current_app.extensions["health_redis"] = client
    client.ping()


CHECKS = {"database": _database, "redis": _redis}


def readiness():
    """(ready, {check: "ok" or the error's type}) for the current app. The error's type only:
    a connection string in a message would carry its password."""
    results = {}
    for name, check in CHECKS.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # any failure means not ready; the probe itself never fails
            results[name] = type(exc).__name__
    return all(v == "ok" for v in results.values()), results
