"""One worker at a time per conversation: a Redis lock that a long turn keeps renewing."""

import logging
from contextlib import contextmanager

from flask import current_app
from redis.exceptions import LockError

from bot.redis import redis_conn

log = logging.getLogger(__name__)


class ConversationBusy(RuntimeError):
    """Another worker holds the conversation; the job retries."""


def lock_key(conversation_id):
    return f"lock:conversation:{conversation_id}"


def is_held(conversation_id):
    return redis_conn().exists(lock_key(conversation_id)) == 1


@contextmanager
def holding(conversation_id):
    """The conversation's lock for the block (ConversationBusy, so the job retries, when
    another worker keeps it). The lock expires after CONVERSATION_LOCK_TTL without renewal."""
    ttl = current_app.config["CONVERSATION_LOCK_TTL"]
    lock = redis_conn().lock(lock_key(conversation_id), timeout=ttl)
    if not lock.acquire(blocking=True, blocking_timeout=lock.timeout + 5):
        raise ConversationBusy(f"conversation {conversation_id} is busy")
    try:
        yield lock
    finally:
        try:
            lock.release()
        except LockError:
            log.warning("conversation %s lock expired while held", conversation_id)
