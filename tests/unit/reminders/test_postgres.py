"""A campaign dispatched on a real PostgreSQL: the due rows are paged in the index's own order
(no sort of every remaining row per batch) and conversations are found through the
(channel, address) unique index, so each batch costs the same however many are due; a 63016
callback racing the send job falls back once."""

from datetime import datetime
from types import SimpleNamespace

from redis import Redis
from sqlalchemy import create_engine, select, text

from bot import create_app
from bot.db import session as db_session
from bot.debts.imports import import_csv
from bot.models import Conversation, Debtor, Message, ScheduledMessage
from bot.outbound.throttle import TokenBucket
from bot.redis import redis_conn
from bot.reminders import campaigns, dispatching
from tests.conftest import DEMO_CSV
from tests.unit.ledger.test_postgres import postgres  # noqa: F401 (the fixture)
from tests.unit.reminders.conftest import FakeMessages
from tests.unit.reminders.test_reminders import CAMILA
from tests.unit.reminders.test_sending import race_a_63016_callback

NOW = datetime(2026, 11, 24, 15, 0)  # a Tuesday inside the hours of the demo's countries


def plan_of(s, stmt):
    compiled = stmt.compile(
        dialect=s.get_bind().dialect, compile_kwargs={"render_postcompile": True}
    )
    rows = s.connection().exec_driver_sql(f"EXPLAIN {compiled}", compiled.params)
    return "\n".join(row[0] for row in rows)


def test_a_campaign_on_postgresql_uses_the_indexes(postgres, redis_server):  # noqa: F811
    app = create_app({"APP_ENV": "test", "DATABASE_URL": postgres, "REDIS_URL": redis_server})
    result = app.test_cli_runner().invoke(args=["db-upgrade"])  # migrations, then templates
    assert result.exit_code == 0, result.output
    with app.app_context():
        s = db_session()
        with DEMO_CSV.open("rb") as fh:
            assert not import_csv(s, fh).errors
        planned = campaigns.schedule_campaign(s, "pg", "reminder.due.friendly", now=NOW)
        assert planned.planned > 0
        # Two rows a batch: the keyset walks every page and each row is dispatched once.
        report = dispatching.dispatch(s, now=NOW, batch=2, enqueue=False)
        assert report.queued + report.deferred + report.suppressed == planned.planned
        waiting = s.execute(
            select(ScheduledMessage.id).where(ScheduledMessage.status == "planned")
        ).all()
        assert waiting == []
        # The messages were inserted in batches with ids drawn from the sequence: each queued
        # reminder points at its own message, in its debtor's conversation, and the sequence
        # goes on after them.
        linked = s.execute(
            select(ScheduledMessage.debtor_id, Message.id, Conversation.debtor_id)
            .join(Message, Message.id == ScheduledMessage.message_id)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(ScheduledMessage.status == "queued")
        ).all()
        assert len(linked) == report.queued > 1
        assert all(reminder == owner for reminder, _id, owner in linked)
        assert len({message for _r, message, _o in linked}) == len(linked)
        later = Message(
            conversation_id=s.get(Message, linked[0][1]).conversation_id, direction="out"
        )
        later.body, later.status, later.attempts = "x", "pending", 0
        s.add(later)
        s.flush()
        assert later.id > max(message for _r, message, _o in linked)
        s.rollback()
        s.execute(text("SET enable_seqscan = off"))  # the tables are tiny: ask what could serve
        due = plan_of(s, dispatching._due_rows(NOW, "planned", (NOW, 1), 1000))
        assert "ix_scheduled_due" in due and "Sort" not in due, due
        lookup = plan_of(
            s,
            select(Conversation.id).where(
                Conversation.channel == "sms", Conversation.address.in_(["+573001234567"])
            ),
        )
        assert "uq_conversation_address" in lookup, lookup
        s.rollback()
        s.close()
    app.extensions["db"].engine.dispose()


def test_a_63016_callback_racing_the_send_job_falls_back_once_on_postgresql(
    postgres,  # noqa: F811
    redis_server,
    monkeypatch,
):
    # A database of its own: the campaign above left its rows in the cluster's default one.
    engine = create_engine(postgres, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.execute(text("CREATE DATABASE race"))
    engine.dispose()
    app = create_app(
        {
            "APP_ENV": "test",
            "DATABASE_URL": postgres.rsplit("/", 1)[0] + "/race",
            "REDIS_URL": redis_server,
            "PUBLIC_BASE_URL": "https://bot.example.test",
        }
    )
    result = app.test_cli_runner().invoke(args=["db-upgrade"])
    assert result.exit_code == 0, result.output
    Redis.from_url(redis_server).flushdb()
    twilio = SimpleNamespace(messages=FakeMessages())
    with app.app_context():
        s = db_session()
        with DEMO_CSV.open("rb") as fh:
            assert not import_csv(s, fh).errors
        debtor = s.execute(select(Debtor).where(Debtor.phone == CAMILA)).scalar_one()
        conversation = Conversation(channel="whatsapp", address=CAMILA, debtor=debtor)
        s.add(conversation)
        s.commit()
        bucket = TokenBucket(redis_conn(), "test", 1000, burst=1000)
        race_a_63016_callback(
            app, s, conversation, twilio, lambda _channel: bucket, monkeypatch, True
        )
        s.close()
    app.extensions["db"].engine.dispose()
