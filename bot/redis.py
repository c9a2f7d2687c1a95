"""The app's Redis connection: queues, locks and short-lived state (never the source of truth)."""

from flask import current_app
from redis import Redis


def redis_conn():
    """One client per app and process (it pools its connections)."""
    ext = current_app.extensions
    if "redis" not in ext:
        ext["redis"] = Redis.from_url(current_app.config["REDIS_URL"])
    return ext["redis"]
