"""Campaign benchmark: plan + gate + enqueue rate for many debtors, and the send rate reached.

Part 1 builds N debtors (one account each) in a scratch SQLite database, then plans a
campaign for all of them and dispatches it (gate, render, store the outbound messages,
enqueue the send jobs in a real redis-server), streamed in batches; it prints debtors per
second and the process's peak RSS before and after, to show memory stays bounded.

Part 2 sends a part of them with real RQ workers (the real twilio client) to the local
Twilio-compatible server, with the shared rate limit set to --rate, and prints the send
rate reached.

Everything runs on the project's clock, started by time-machine at --now (default Tuesday
2026-11-24 15:00 UTC, inside the hours of every country here) and ticking: the benchmark
process and its workers (`bench.clocked`) plan, dispatch and re-check each reminder at send
time with the real rules at that instant, whatever the machine's date and hour.

    .venv/bin/python -m bench.campaign --debtors 100000 --send 5000 --rate 1000 --workers 2
"""

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import time_machine
from sqlalchemy import func, insert, select

from bench.common import verified_conversation
from bot.testing.fake_twilio import FakeTwilio
from bot.testing.stack import ROOT, free_port

# Tuesday 2026-11-24 15:00 UTC: inside the hours in Bogotá, Mexico City, New York, Santiago,
# Lima and Buenos Aires.
NOW = datetime(2026, 11, 24, 15, 0)
COUNTRIES = [
    # country, prefix, national digits, address zone (None: the number's), currency, locale
    ("CO", "+57300", 7, None, "COP", "es-CO"),
    ("MX", "+5255", 8, None, "MXN", "es-MX"),
    ("US", "+1850", 7, "America/New_York", "USD", "en-US"),  # a split area code
    ("CL", "+5698", 7, None, "CLP", "es-CL"),  # mobiles: three zones
    ("PE", "+519", 8, None, "PEN", "es-PE"),
    ("AR", "+54911", 8, None, "ARS", "es-AR"),
]


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def start_redis(workdir):
    port = free_port()
    proc = subprocess.Popen(
        [
            shutil.which("redis-server"),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
    )
    from redis import Redis

    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        try:
            Redis.from_url(url).ping()
            break
        except Exception:
            time.sleep(0.05)
    return proc, url


def build(app, n):
    """Insert n debtors with one account each, in chunks (bounded memory): each with consent
    on both channels on record (Colombia needs it), every other one verified on its number
    (the full text; the rest get the discreet first contact); a payment on every fourth
    account and a broken promise on every seventh, so planning reads a payment history."""
    from bot.db import session
    from bot.models import Account, ConsentRecord, Conversation, Debtor, Payment, Promise

    with app.app_context():
        s = session()
        stamp = datetime(2026, 11, 1)
        chunk = 5000
        for start in range(0, n, chunk):
            debtors, accounts, consents, conversations = [], [], [], []
            payments, promises = [], []
            for i in range(start, min(start + chunk, n)):
                country, prefix, digits, zone, currency, locale = COUNTRIES[i % len(COUNTRIES)]
                debtors.append(
                    {
                        "id": i + 1,
                        "full_name": f"Debtor {i}",
                        "phone": f"{prefix}{i:0{digits}d}",
                        "locale": locale,
                        "country": country,
                        "timezone": zone,
                        "id_secret_hash": "x",
                        "id_secret_salt": "x",
                        # Some have opted out of WhatsApp (SMS instead), a few are wrong numbers.
                        "opted_out_whatsapp_at": stamp if i % 10 == 0 else None,
                        "wrong_number_at": stamp if i % 50 == 1 else None,
                        "created_at": stamp,
                        "updated_at": stamp,
                    }
                )
                for channel in ("whatsapp", "sms"):
                    consents.append(
                        {
                            "debtor_id": i + 1,
                            "channel": channel,
                            "action": "granted",
                            "scope": "channel",
                            "at": stamp,
                            "method": "import",
                            "evidence": "contract",
                            "recorded_by": "bench",
                            "recorded_at": stamp,
                        }
                    )
                if i % 2:
                    conversations.append(verified_conversation(debtors[-1]["phone"], i + 1, stamp))
                accounts.append(
                    {
                        "id": i + 1,
                        "debtor_id": i + 1,
                        "external_id": f"B-{i}",
                        "currency": currency,
                        "amount_due_minor": 100000 + i,
                        "balance_minor": 100000 + i,
                        "due_date": date(2026, 11, 1) + timedelta(days=i % 40),
                        "status": "open",
                        "created_at": stamp,
                        "updated_at": stamp,
                    }
                )
                if i % 4 == 0:
                    payments.append(
                        {
                            "account_id": i + 1,
                            "amount_minor": 1000,
                            "currency": currency,
                            "provider": "bench",
                            "provider_ref": f"P-{i}",
                            "status": "succeeded",
                            "received_at": stamp,
                            "surplus_minor": 0,
                            "discount_minor": 0,
                        }
                    )
                if i % 7 == 0:
                    promises.append(
                        {
                            "account_id": i + 1,
                            "amount_minor": 1000,
                            "promised_date": date(2026, 10, 20),
                            "status": "broken",
                            "created_by": "bench",
                            "created_at": stamp,
                            "updated_at": stamp,
                        }
                    )
            s.execute(insert(Debtor), debtors)
            s.execute(insert(Account), accounts)
            s.execute(insert(ConsentRecord), consents)
            s.execute(insert(Conversation), conversations)
            s.execute(insert(Payment), payments)
            s.execute(insert(Promise), promises)
            s.commit()


def part1(app, n, now):
    from bot.db import session
    from bot.reminders import campaigns, dispatching

    with app.app_context():
        s = session()
        rss_before = peak_rss_mib()
        t0, c0 = time.perf_counter(), time.process_time()
        planned = campaigns.schedule_campaign(s, "bench", "reminder.due.friendly", now=now)
        t1, c1 = time.perf_counter(), time.process_time()
        report = dispatching.dispatch(s, now=now, step_prefix="campaign:bench")
        t2, c2 = time.perf_counter(), time.process_time()
        print(f"debtors: {n}")
        print(
            f"plan: {planned.planned} rows in {t1 - t0:.1f} s "
            f"({planned.planned / (t1 - t0):,.0f}/s)"
        )
        print(
            f"gate + render + enqueue: {report.summary()} in {t2 - t1:.1f} s "
            f"({n / (t2 - t1):,.0f} debtors/s)"
        )
        print(f"plan + gate + enqueue: {n / (t2 - t0):,.0f} debtors/s")
        print(
            f"per debtor: {(t2 - t0) / n * 1e6:,.0f} µs wall, "
            f"{(c2 - c0) / n * 1e6:,.0f} µs CPU (plan + gate + render + enqueue)"
        )
        # On a shared machine the wall clock includes waiting for a core: CPU time shows the
        # work itself (this process only; redis-server is not counted).
        print(
            f"CPU time: plan {c1 - c0:.1f} s, gate + render + enqueue {c2 - c1:.1f} s "
            f"({n / (c2 - c1):,.0f} debtors per CPU-second)"
        )
        print(f"peak RSS: {rss_before:.0f} MiB before the campaign, {peak_rss_mib():.0f} MiB after")
        return report


def part2(app, env, sends, rate, workers, fake, now):
    """Let real workers send the first `sends` queued reminders; the rest stay queued. The
    workers run on the benchmark's clock (a few seconds after part 1's instant), so the
    send-time check applies the real rules: nothing is opened for them."""
    from bot.db import session
    from bot.models import ScheduledMessage
    from bot.redis import redis_conn
    from bot.tasks import queues

    with app.app_context():
        redis = redis_conn()
        redis.flushdb()  # drop the part-1 jobs; enqueue exactly `sends` reminders
        s = session()
        ids = list(
            s.execute(
                select(ScheduledMessage.id)
                .where(ScheduledMessage.status == "queued")
                .order_by(ScheduledMessage.id)
                .limit(sends)
            ).scalars()
        )
        size = app.config["REMINDER_SEND_BATCH"]
        with redis.pipeline() as pipe:
            for start in range(0, len(ids), size):
                queues.enqueue("send_reminders", ids[start : start + size], pipeline=pipe)
            pipe.execute()
    log = open(Path(env["DATABASE_URL"][len("sqlite:///") :]).parent / "workers.log", "ab")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.clocked", now.isoformat(), "worker", "--burst"],
            cwd=ROOT,
            env={**env, "SEND_RATE_PER_SECOND": str(rate)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for _ in range(workers)
    ]
    deadline = time.monotonic() + max(120, sends / 50)
    while len(fake.messages) < len(ids) and time.monotonic() < deadline:
        time.sleep(0.2)
    for proc in procs:
        proc.wait(timeout=60)
    log.close()
    if len(fake.messages) < len(ids):
        print((Path(log.name).read_text(errors="replace"))[-3000:])
    stamps = sorted(m["received_at"] for m in fake.messages)
    if len(stamps) < 2:
        raise SystemExit(f"send: {len(stamps)} message(s) reached the server: no rate to show")
    span = stamps[-1] - stamps[0]
    with app.app_context():
        sent = (
            session()
            .execute(
                select(func.count())
                .select_from(ScheduledMessage)
                .where(ScheduledMessage.status == "sent")
            )
            .scalar()
        )
    print(
        f"send: {len(stamps)} reached the local Twilio-compatible server in {span:.1f} s "
        f"({(len(stamps) - 1) / span:,.0f}/s) with the limit at {rate:g}/s and {workers} "
        f"worker(s); {sent} marked sent"
    )
    # The limit must hold over every one-second window, whoever sent.
    busiest = (
        max(sum(1 for t in stamps[i:] if t - stamps[i] < 1.0) for i in range(0, len(stamps), 50))
        if stamps
        else 0
    )
    print(f"busiest one-second window: {busiest} messages")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--debtors", type=int, default=100_000)
    parser.add_argument("--send", type=int, default=5000, help="messages to send in part 2")
    parser.add_argument("--rate", type=float, default=1000, help="send limit per second")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--now",
        type=datetime.fromisoformat,
        default=NOW,
        help="the instant (UTC) the campaign is planned, dispatched and sent at",
    )
    args = parser.parse_args()
    now = args.now.astimezone(timezone.utc).replace(tzinfo=None) if args.now.tzinfo else args.now
    with time_machine.travel(now.replace(tzinfo=timezone.utc), tick=True):
        run(args, now)


def run(args, now):
    from bot import create_app

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        redis_proc, redis_url = start_redis(tmp)
        fake = FakeTwilio("AC" + "2" * 32, "b" * 32, callbacks=False).start()
        env = {
            **os.environ,
            "APP_ENV": "test",
            "SECRET_KEY": "bench-" + "c" * 26,
            "DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
            "REDIS_URL": redis_url,
            "TWILIO_ACCOUNT_SID": fake.account_sid,
            "TWILIO_AUTH_TOKEN": fake.auth_token,
            "TWILIO_API_BASE_URL": fake.url,
            "PUBLIC_BASE_URL": "http://127.0.0.1:9",  # no status callbacks in this benchmark
            "REMINDER_TICK": "0",
            "LOG_LEVEL": "WARNING",
            "FLASK_APP": "bot",
        }
        os.environ.update(env)
        try:
            app = create_app()
            result = app.test_cli_runner().invoke(args=["db-upgrade"])
            assert result.exit_code == 0, result.output
            t0 = time.perf_counter()
            build(app, args.debtors)
            print(f"built {args.debtors} debtors in {time.perf_counter() - t0:.1f} s")
            part1(app, args.debtors, now)
            if args.send:
                part2(app, env, args.send, args.rate, args.workers, fake, now)
        finally:
            fake.stop()
            redis_proc.terminate()
            redis_proc.wait(timeout=10)


if __name__ == "__main__":
    main()
