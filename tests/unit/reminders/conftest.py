"""Fixtures the reminder tests share: a Twilio stand-in, a roomy rate limit, verified debtors."""

import threading
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from bot.clock import utcnow
from bot.models import Conversation, Debtor
from bot.outbound.throttle import TokenBucket
from bot.redis import redis_conn

# Tuesday 2026-11-17, 10:00 in Bogotá: Camila's debt (due 2026-11-10) is 7 days overdue.
NOW = datetime(2026, 11, 17, 15, 0)


class FakeMessages:
    """Stands in for client.messages: records creates; can fail the next ones."""

    def __init__(self):
        self.created = []
        self.failures = []
        self.lock = threading.Lock()  # the sender calls create from a few threads

    def create(self, **kwargs):
        with self.lock:
            if self.failures:
                raise self.failures.pop(0)
            self.created.append({**kwargs, "date_created": utcnow()})
            return SimpleNamespace(sid=f"SM{len(self.created):032d}", status="queued")

    def list(self, to, from_, **_):
        """Newest first, like Twilio."""
        return [
            SimpleNamespace(
                sid=f"SM{i + 1:032d}",
                status="queued",
                body=c.get("body"),
                date_created=c["date_created"],
            )
            for i, c in reversed(list(enumerate(self.created)))
            if c["to"] == to and c["from_"] == from_
        ]


@pytest.fixture
def twilio():
    return SimpleNamespace(messages=FakeMessages())


@pytest.fixture
def buckets(app):
    with app.app_context():
        bucket = TokenBucket(redis_conn(), "test", 1000, burst=1000)
    return lambda channel: bucket


@pytest.fixture
def verified(db, demo_debtors):
    """Every demo debtor verified once on their number: reminders carry the full text (until
    then they are discreet, tests/unit/contact/test_discreet.py)."""
    for debtor in db.execute(select(Debtor)).scalars():
        db.add(
            Conversation(
                channel="sms", address=debtor.phone, debtor=debtor, verified_at=NOW - timedelta(30)
            )
        )
    db.commit()
