"""Every query that runs on a timer or a poll, planned on PostgreSQL at N debtors.

Starts a throwaway PostgreSQL (bot/testing/postgres.py) and redis-server, migrates to head,
bulk-loads a realistic data set in SQL (generate_series: N debtors with an account and a
conversation each, 4N messages almost all answered or delivered, 2N reminders mostly sent, a
few pending/failed/waiting rows), ANALYZEs, then runs each periodic pass through the project's
own code while an engine event records the SELECTs it emits, and runs each recorded SELECT
again under EXPLAIN (ANALYZE, BUFFERS).

    .venv/bin/python -m bench.pg_plans                   # 1M debtors
    .venv/bin/python -m bench.pg_plans --debtors 100000  # quick
    .venv/bin/python -m bench.pg_plans --without 0020_partial_indexes   # before
"""

import argparse
import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import timedelta

from redis import Redis
from sqlalchemy import create_engine, event, text

from bot.testing.postgres import Postgres
from bot.testing.stack import free_port

# Rows the periodic passes exist for: a realistic few among millions.
RECEIVED, PENDING_OUT, FAILED, WAITING, HELD, PLANNED_DUE, QUEUED = 40, 60, 30, 25, 8, 500, 80

LOAD = """
INSERT INTO debtors (id, full_name, phone, locale, country, timezone, id_secret_hash,
                     id_secret_salt, created_at, updated_at)
SELECT i, 'Debtor ' || i, '+57300' || lpad(i::text, 7, '0'), 'es', 'CO', 'America/Bogota',
       md5(i::text), substr(md5('s' || i), 1, 16), TIMESTAMP :now - interval '200 days',
       TIMESTAMP :now - interval '200 days'
FROM generate_series(1, :n) i;

INSERT INTO accounts (id, debtor_id, external_id, currency, amount_due_minor, balance_minor,
                      due_date, status, created_at, updated_at)
SELECT i, i, 'A' || i, 'COP', 50000000, CASE WHEN i % 3 = 0 THEN 0 ELSE 25000000 END,
       DATE :today - (i % 120), CASE WHEN i % 3 = 0 THEN 'paid' ELSE 'open' END,
       TIMESTAMP :now - interval '200 days', TIMESTAMP :now - interval '1 day' * (i % 90)
FROM generate_series(1, :n) i;

INSERT INTO conversations (id, channel, address, debtor_id, state, last_inbound_at,
                           verification_failures, needs_agent, bot_paused, created_at,
                           updated_at)
SELECT i, 'whatsapp', '+57300' || lpad(i::text, 7, '0'), i,
       CASE WHEN i % 4 = 0 THEN 'bot' ELSE 'closed' END,
       TIMESTAMP :now - interval '1 hour' * (i % 4000), 0, false, false,
       TIMESTAMP :now - interval '200 days', TIMESTAMP :now - interval '1 hour' * (i % 4000)
FROM generate_series(1, :n) i;

-- Four messages a conversation: two inbound answered, two outbound delivered or read.
INSERT INTO messages (id, conversation_id, direction, provider_sid, body, status, attempts,
                      created_at, updated_at, processed_at)
SELECT m, (m - 1) / 4 + 1, CASE WHEN m % 2 = 1 THEN 'in' ELSE 'out' END,
       'SM' || lpad(m::text, 32, '0'), 'hola',
       CASE WHEN m % 2 = 1 THEN 'processed' WHEN m % 8 = 0 THEN 'read' ELSE 'delivered' END,
       1, TIMESTAMP :now - interval '1 minute' * (4 * :n - m) / 8,
       TIMESTAMP :now - interval '1 minute' * (4 * :n - m) / 8,
       TIMESTAMP :now - interval '1 minute' * (4 * :n - m) / 8
FROM generate_series(1, 4 * :n) m;

-- Two reminders an account, sent; a few due now or waiting for their send job.
INSERT INTO scheduled_messages (id, debtor_id, account_id, step, ref_date, template_key,
                                due_at, expires_at, status, channel, contacted_at, attempts,
                                created_at, updated_at)
SELECT r, (r + 1) / 2, (r + 1) / 2, CASE WHEN r % 2 = 1 THEN 'due:-3' ELSE 'due:0' END,
       DATE :today - ((r + 1) / 2 % 120), 'reminder.due',
       TIMESTAMP :now - interval '1 hour' * (r % 2000),
       TIMESTAMP :now - interval '1 hour' * (r % 2000) + interval '12 hours',
       CASE WHEN r % 50 = 0 THEN 'suppressed' ELSE 'sent' END, 'whatsapp',
       TIMESTAMP :now - interval '1 hour' * (r % 2000), 1,
       TIMESTAMP :now - interval '1 hour' * (r % 2000),
       TIMESTAMP :now - interval '1 hour' * (r % 2000)
FROM generate_series(1, 2 * :n) r;

INSERT INTO promises (account_id, promised_date, amount_minor, status, created_by,
                      created_at, updated_at)
SELECT i, DATE :today - (i % 60), 1000000, CASE WHEN i % 200 = 0 THEN 'pending' ELSE 'kept' END,
       'bot', TIMESTAMP :now - interval '70 days', TIMESTAMP :now - interval '70 days'
FROM generate_series(1, :n, 20) i;
"""

FEW = """
UPDATE messages SET status = 'received', created_at = TIMESTAMP :now - interval '10 minutes'
WHERE id IN (SELECT generate_series(4 * :n - 2 * :received + 1, 4 * :n, 2) - 0);
UPDATE messages SET status = 'pending', created_at = TIMESTAMP :now - interval '10 minutes'
WHERE id IN (SELECT generate_series(4 * :n - 400, 4 * :n - 400 + 2 * :pending - 1, 2) + 1);
UPDATE messages SET status = 'failed', error_code = 'bot_down',
       created_at = TIMESTAMP :now - interval '2 hours'
WHERE id IN (SELECT generate_series(4 * :n - 800, 4 * :n - 800 + 2 * :failed - 1, 2) + 1);
UPDATE messages SET status = 'failed', error_code = '30008'
WHERE id IN (SELECT generate_series(8, 4 * :n, 997));
UPDATE conversations SET needs_agent = true, agent_reason = 'asked_for_agent',
       escalated_at = TIMESTAMP :now - interval '1 minute' * (id % 300)
WHERE id IN (SELECT generate_series(1, :n, :n / :waiting));
UPDATE conversations SET state = 'agent', claimed_at = TIMESTAMP :now
WHERE id IN (SELECT generate_series(7, :n, :n / :held));
UPDATE scheduled_messages SET status = 'planned', due_at = TIMESTAMP :now - interval '5 minutes'
WHERE id IN (SELECT generate_series(2 * :n - 3 * :planned, 2 * :n - 1, 3));
UPDATE scheduled_messages SET status = 'queued', updated_at = TIMESTAMP :now - interval '2 hours'
WHERE id IN (SELECT generate_series(2 * :n - 8000, 2 * :n - 8000 + 5 * :queued - 1, 5));
"""

SEQUENCES = ("debtors", "accounts", "conversations", "messages", "scheduled_messages")


def load(url, n, now):
    engine = create_engine(url, future=True)
    params = {
        "n": n, "now": now.isoformat(sep=" "), "today": now.date().isoformat(),
        "received": RECEIVED, "pending": PENDING_OUT, "failed": FAILED, "waiting": WAITING,
        "held": HELD, "planned": PLANNED_DUE, "queued": QUEUED,
    }  # fmt: skip
    started = time.perf_counter()
    with engine.begin() as conn:
        for sql in (LOAD + FEW).split(";\n"):
            if sql.strip():
                conn.execute(text(sql.replace(":now", "'" + params["now"] + "'")
                                  .replace(":today", "'" + params["today"] + "'")),
                             {k: v for k, v in params.items() if f":{k}" in sql})  # fmt: skip
        for table in SEQUENCES:
            conn.execute(text(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    print(f"loaded {n:,} debtors in {time.perf_counter() - started:.1f} s", flush=True)


def migrate(url, without):
    from alembic import command

    from bot.cli.release import alembic_config

    cfg = alembic_config(url)
    command.upgrade(cfg, "head")
    if without:
        # "Before": the schema as it was before that revision.
        from alembic.script import ScriptDirectory

        revision = ScriptDirectory.from_config(cfg).get_revision(without)
        command.downgrade(cfg, revision.down_revision)


class Recorder:
    """The SELECTs an engine runs, labelled by the periodic pass that ran them."""

    def __init__(self, engine):
        self.label = None
        self.seen = {}
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, parameters, context, executemany):
        if self.label and statement.lstrip().upper().startswith("SELECT") and not executemany:
            self.seen.setdefault((self.label, statement), parameters)

    @contextmanager
    def run(self, label):
        self.label = label
        started = time.perf_counter()
        try:
            yield
        finally:
            self.label = None
            print(f"  {label}: ran in {(time.perf_counter() - started) * 1000:.1f} ms", flush=True)


def passes(s, now, with_planning=False):
    """Every pass that runs on a timer or a poll, through the project's own code."""
    from bot.conversations import handover
    from bot.debts import promises
    from bot.reminders import dispatching, planning, sending
    from bot.tasks import periodic

    yield "sweep", lambda: periodic.sweep(now)
    yield "agents' queue", lambda: handover.queue(s)
    yield "reminders: requeue lost", lambda: sending.requeue_stale(s, now=now)
    yield (
        "reminders: broken promises",
        lambda: promises.break_overdue_promises(s, today=now.date() - timedelta(days=1)),
    )
    yield "reminders: dispatch", lambda: dispatching.dispatch(s, now=now)
    yield "health: database", lambda: s.execute(text("SELECT 1"))
    if with_planning:
        # A batch pass over every account (every REMINDER_PLAN_INTERVAL), not a poll.
        yield "reminders: planning", lambda: planning.plan(s, now=now)


def explain(engine, statement, parameters):
    with engine.connect() as conn:
        result = conn.exec_driver_sql(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, parameters
        ).scalar()
        conn.rollback()
    plan = (json.loads(result) if isinstance(result, str) else result)[0]
    top, node = plan["Plan"], plan["Plan"]
    # The node that reads the rows: the first scan under limits, sorts and joins' outer side.
    while "Plans" in node and not node["Node Type"].endswith("Scan"):
        node = node["Plans"][0]
    scan = node["Node Type"] + (f" {node.get('Index Name', node.get('Relation Name', ''))}")
    return (
        top["Node Type"],
        scan.strip(),
        plan["Execution Time"],
        top["Shared Hit Blocks"] + top.get("Shared Read Blocks", 0),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debtors", type=int, default=1_000_000)
    parser.add_argument(
        "--without", default=None, help="downgrade below this revision first (the 'before')"
    )
    parser.add_argument(
        "--planning", action="store_true", help="also run the planning pass (slow at 1M)"
    )
    args = parser.parse_args()
    from bot.clock import utcnow

    now = utcnow().replace(microsecond=0)
    pg = Postgres().start()
    redis_port = free_port()
    redis = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "",
         "--appendonly", "no"], stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = pg.create_database()
        migrate(url, args.without)
        load(url, args.debtors, now)
        _wait_redis(redis_port)
        os.environ.update(
            DATABASE_URL=url, REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
            RASA_URL="http://127.0.0.1:9", SECRET_KEY="bench", APP_ENV="development",
        )  # fmt: skip
        from bot import create_app
        from bot.db import session as db_session

        app = create_app({"DATABASE_URL": url, "TESTING": True})
        rows = []
        with app.app_context():
            s = db_session()
            engine = s.get_bind()
            recorder = Recorder(engine)
            for label, work in passes(s, now, args.planning):
                with recorder.run(label):
                    work()
                    s.commit()
            for (label, statement), parameters in recorder.seen.items():
                top, scan, ms, blocks = explain(engine, statement, parameters)
                rows.append((label, _short(statement), top, scan, ms, blocks))
        _print(rows, args)
    finally:
        redis.terminate()
        redis.wait()
        pg.stop()


def _wait_redis(port):
    from bot.testing import wait_for

    wait_for(lambda: _ping(port), timeout=10)


def _ping(port):
    try:
        return Redis(port=port).ping()
    except Exception:
        return False


def _short(statement):
    """FROM <table> ... WHERE's first terms: enough to tell the statements apart."""
    flat = " ".join(statement.split())
    start = flat.upper().find(" FROM ")
    return flat[start + 6 : start + 6 + 70] if start >= 0 else flat[:70]


def _print(rows, args):
    without = f" without {args.without}" if args.without else ""
    print(f"\nperiodic queries at {args.debtors:,} debtors{without} (EXPLAIN ANALYZE, ms):")
    print(
        f"{'pass':28s} {'ms':>9s} {'blocks':>8s}  {'top node':14s} {'rows read by':40s} statement"
    )
    for label, statement, top, scan, ms, blocks in rows:
        print(f"{label:28s} {ms:9.2f} {blocks:8d}  {top:14s} {scan:40s} {statement}")
    slow = [r for r in rows if r[4] >= 20 and not r[0].startswith("reminders: planning")]
    print(f"\n{len(rows)} statements; {len(slow)} periodic statement(s) at or over 20 ms")


if __name__ == "__main__":
    sys.exit(main())
