"""Start Rasa's own CLI (`python -m bot.conversations.rasa_server run ...`) with two things
set up first.

1. Rasa 3.6's `RemoteAction._validate_action_result` calls `jsonschema.validate` on every answer
   of the action server, which checks the (constant) schema against the metaschema and builds a
   new validator each time: most of Rasa's CPU per turn. Here the validator is built once and
   each answer checked with it exactly as `jsonschema.validate` does (same validator class,
   same best-matching error, the same text added by Rasa, the same exception raised).
2. `dialogue/endpoints.yml` reads the Redis of Rasa's tracker and lock stores from
   RASA_REDIS_HOST, _PORT, _DB and _PASSWORD: those unset or empty are filled in from
   RASA_REDIS_URL, else REDIS_URL (the bot's Redis), else redis://localhost:6379/0;
   RASA_TRACKER_EXPIRY defaults to a day.

3. `PruningRedisTrackerStore` (endpoints.yml's tracker store): on save, whole past sessions that
   ended more than RASA_EVENTS_MAX_AGE_DAYS (default 30) ago are dropped, so a debtor who
   writes every few days (the tracker never expires) does not grow one tracker forever.

Only Rasa and the standard library are imported (and bot.clock by the tracker store Rasa loads
by its module path): this is the Rasa process, not the bot's.
"""

import json
import os
import sys
from urllib.parse import unquote, urlsplit

DEFAULT_REDIS_URL = "redis://localhost:6379/0"
# Seconds a conversation's tracker stays in Redis after its last turn: longer than a Rasa session
# (60 minutes) and the worker's retries. What must outlive it (verification, money) is in the
# bot's database, and a new session reads verification back from there.
DEFAULT_TRACKER_EXPIRY = "86400"


def install_cached_action_result_validator():
    """Make RemoteAction check action-server answers with a validator built once."""
    from jsonschema import exceptions, validators
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    if not hasattr(RemoteAction, "_validate_action_result"):
        raise RuntimeError("this Rasa has no RemoteAction._validate_action_result to replace")
    schema = RemoteAction.action_response_format_spec()
    # What jsonschema.validate(result, schema) does on every call, done once.
    cls = validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema)

    def _validate_action_result(self, result):
        error = exceptions.best_match(validator.iter_errors(result))
        if error is None:
            return True
        error.message += (
            f". Failed to validate Action server response from API, "
            f"make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise error

    RemoteAction._validate_action_result = _validate_action_result


def redis_environment(environ):
    """The variables endpoints.yml reads for Redis, from RASA_REDIS_URL or REDIS_URL."""
    url = urlsplit(environ.get("RASA_REDIS_URL") or environ.get("REDIS_URL") or DEFAULT_REDIS_URL)
    if url.scheme != "redis":
        raise SystemExit(
            f"RASA_REDIS_URL: a redis:// URL is expected, not {url.scheme}://; for TLS set the "
            "RASA_REDIS_* variables and use_ssl in dialogue/endpoints.yml"
        )
    return {
        "RASA_REDIS_HOST": url.hostname or "localhost",
        "RASA_REDIS_PORT": str(url.port or 6379),
        "RASA_REDIS_DB": url.path.strip("/") or "0",
        "RASA_REDIS_PASSWORD": unquote(url.password or ""),
        "RASA_TRACKER_EXPIRY": DEFAULT_TRACKER_EXPIRY,
    }


def fill_redis_environment(environ):
    """Set the variables endpoints.yml reads that are unset or empty (as .env.example has them)."""
    for name, value in redis_environment(environ).items():
        if not environ.get(name):
            environ[name] = value


DEFAULT_EVENTS_MAX_AGE_DAYS = 30


def prune_events(events, cutoff):
    """The events without the past sessions that ended before cutoff (a Unix time): the cut
    is made only at a session's start (Rasa's action_session_start), so whole sessions go and
    the current one always stays intact (slots carried over into a session are SlotSet events
    inside it)."""
    cut = 0
    for i, event in enumerate(events):
        if event.get("event") != "session_started" or i == 0:
            continue
        start = i
        previous = events[i - 1]
        if previous.get("event") == "action" and previous.get("name") == "action_session_start":
            start = i - 1
        if start > 0 and events[start - 1].get("timestamp", 0) < cutoff:
            cut = start
    return events[cut:]


def _tracker_store_class():
    from rasa.core.tracker_store import RedisTrackerStore
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot import clock  # the project's only reader of the time (tests move it)

    class PruningRedisTrackerStore(RedisTrackerStore):
        """Rasa's Redis tracker store that drops past sessions older than max_age_days."""

        def __init__(self, *args, max_age_days=None, **kwargs):
            super().__init__(*args, **kwargs)
            days = max_age_days or os.environ.get("RASA_EVENTS_MAX_AGE_DAYS") or ""
            self.max_age = float(days or DEFAULT_EVENTS_MAX_AGE_DAYS) * 86400

        async def save(self, tracker, timeout=None):
            await self.stream_events(tracker)
            timeout = timeout or self.record_exp
            key = self.key_prefix + tracker.sender_id
            stored = self.red.get(key)
            if stored is not None:
                prior = self.deserialise_tracker(tracker.sender_id, stored)
                tracker = self._merge_trackers(prior, tracker)
            state = json.loads(self.serialise_tracker(tracker))
            kept = prune_events(state.get("events") or [], clock.epoch() - self.max_age)
            if len(kept) != len(state.get("events") or []):
                tracker = DialogueStateTracker.from_dict(
                    tracker.sender_id, kept, self.domain.slots if self.domain else None
                )
            self.red.set(key, self.serialise_tracker(tracker), ex=timeout)

    return PruningRedisTrackerStore


def __getattr__(name):
    # endpoints.yml names the class by its module path; Rasa is imported only when it asks.
    if name == "PruningRedisTrackerStore":
        return _tracker_store_class()
    raise AttributeError(name)


def main(argv=None):
    """Fill in Rasa's Redis settings and install the validator, then run Rasa's CLI with these
    arguments (default: sys.argv)."""
    fill_redis_environment(os.environ)
    install_cached_action_result_validator()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *(sys.argv[1:] if argv is None else argv)]
    rasa_main()


if __name__ == "__main__":
    main()
