"""The March history every metric test reads (answers worked out by hand in the comments)."""

from datetime import date, datetime

import pytest

from bot import create_app
from bot.analytics import rollup
from bot.db import session as db_session
from tests.unit.analytics.history import History, utc

NOW = datetime(2026, 5, 1, 15, 0)  # every 30-day outcome of March has matured


def d(day, month=3):
    return date(2026, month, day)


@pytest.fixture(scope="module")
def march_app(tmp_path_factory, databases, redis_server):
    """One database with the March history, rolled up once for the module's (reading) tests."""
    url = databases.new(tmp_path_factory.mktemp("march"))
    app = create_app({"APP_ENV": "test", "DATABASE_URL": url, "REDIS_URL": redis_server})
    with app.app_context():
        built = build_march(db_session())
    yield app, built
    app.extensions["db"].engine.dispose()
    databases.drop(url)


@pytest.fixture
def march(march_app):
    app, built = march_app
    with app.app_context():
        yield built


@pytest.fixture
def mdb(march_app):
    """A session on the March database."""
    app, _built = march_app
    with app.app_context():
        yield db_session()


WHOLE_HISTORY = (date(2026, 1, 1), date(2026, 4, 30))


def build_march(db, rollup_days=WHOLE_HISTORY):
    """A: 100,000 COP due 1 March, contacted under "default" (WhatsApp, delivered), replies,
    verifies, promises (broken), pays 40,000; contacted again under "late" (read), pays
    60,000; a later 10,000 payment was reversed. B: 50,000 due 1 March, one SMS under
    "default", opts out of SMS, never pays. C: 200,000 due 15 January, pays 250,000 on 10 March
    (50,000 surplus) after promising it to an agent (kept); an agent handled C for 30 minutes."""
    h = History(db)
    a = h.debtor("Ana", 100_000, d(1), utc(d(1, 2)))
    b = h.debtor("Beto", 50_000, d(1), utc(d(1, 2)))
    c = h.debtor("Carla", 200_000, d(15, 1), utc(d(1, 1)), label="retail")
    h.contact(a, utc(d(2)), "default", "reminder.overdue.friendly")
    h.reply(a, utc(d(2), 16))
    h.verified(a, utc(d(2), 16).replace(minute=5))
    h.promise(a, utc(d(2), 16).replace(minute=10), d(5), "broken")
    h.pay(a, utc(d(3)), 40_000)
    h.contact(a, utc(d(20)), "late", "reminder.overdue.firm", status="read")
    h.pay(a, utc(d(21)), 60_000)
    h.pay(a, utc(d(22)), 10_000, status="reversed")
    h.contact(b, utc(d(2)), "default", "reminder.overdue.friendly", channel="sms", status="sent")
    b.debtor.opted_out_sms_at = utc(d(3))
    h.promise(c, utc(d(9)), d(10), "kept", by="agent:1")
    h.pay(c, utc(d(10)), 250_000, surplus=50_000)
    conv = h.conversation(c)
    h.audit(utc(d(9), 14), "agent:1", "conversation.needs_agent", conv, {"reason": "asked"})
    h.audit(utc(d(9), 14).replace(minute=5), "agent:1", "conversation.claimed", conv)
    h.audit(utc(d(9), 14).replace(minute=35), "agent:1", "conversation.handed_back", conv)
    db.commit()
    if rollup_days:
        rollup.rollup_range(db, *rollup_days, now=NOW)
    return {"a": a, "b": b, "c": c, "history": h}
