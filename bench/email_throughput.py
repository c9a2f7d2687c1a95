"""E-mail campaign throughput: reminders by e-mail sent by real RQ workers over SMTP (smtplib)
to a local SMTP server (aiosmtpd), through the same gate, send job and rate limit as WhatsApp
and SMS. Prints the messages per second the server received.

N debtors (Colombia, e-mail preferred and authorised) get a campaign planned and dispatched in
this process; then `flask worker --burst` processes send it. Like bench/campaign.py part 2, the
rules are opened at every hour so the hour the benchmark runs at does not decide what the
send-time check lets through.

    .venv/bin/python -m bench.email_throughput --debtors 2000 --workers 2 --rate 1000
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from bench.campaign import COUNTRIES, NOW, start_redis
from bench.common import verified_conversation
from bot.testing.smtp import SmtpCatcher
from bot.testing.stack import ROOT

# Sending is measured at the real clock (the workers run unpatched): packs and policies open at
# every hour, so the hour the benchmark runs at does not decide what the send-time check allows.
OPEN_PACK = """
country: {country}
name: "{country}, benchmark: open at every hour"
version: bench
zones: []
holidays: {{calendar: {country}, subdivisions: none}}
gate: {{}}
implements: {{}}
rules:
  - {{id: bench, law: none, kind: practice, basis: general_knowledge, summary: bench}}
"""


def open_rules(s, workdir, env):
    """Every country's pack and policy open at every hour, without caps."""
    from bot.models import ContactRule

    packs = Path(workdir) / "packs"
    packs.mkdir(exist_ok=True)
    for country, *_rest in COUNTRIES:
        (packs / f"{country}.yml").write_text(OPEN_PACK.format(country=country), "utf-8")
    env["CONTACT_PACKS_DIR"] = str(packs)
    s.execute(
        ContactRule.__table__.update().values(
            hours={}, skip_holidays=False, max_per_day=100, max_per_week=100, min_gap_hours=0
        )
    )


def build(app, n):
    from bot.db import session
    from bot.models import Account, ConsentRecord, Conversation, Debtor

    stamp = datetime(2026, 11, 1)
    with app.app_context():
        s = session()
        debtors, accounts, consents, conversations = [], [], [], []
        for i in range(n):
            address = f"debtor{i}@example.com"
            debtors.append(
                {
                    "id": i + 1,
                    "full_name": f"Debtor {i}",
                    "phone": f"+57300{i:07d}",
                    "email": address,
                    "preferred_channel": "email",
                    "locale": "es-CO",
                    "country": "CO",
                    "id_secret_hash": "x",
                    "id_secret_salt": "x",
                    "created_at": stamp,
                    "updated_at": stamp,
                }
            )
            consents.append(
                {
                    "debtor_id": i + 1,
                    "channel": "email",
                    "action": "granted",
                    "scope": "channel",
                    "at": stamp,
                    "method": "import",
                    "evidence": "contract",
                    "recorded_by": "bench",
                    "recorded_at": stamp,
                }
            )
            # Verified on their number: the full reminder, not the discreet first contact.
            conversations.append(verified_conversation(debtors[-1]["phone"], i + 1, stamp))
            accounts.append(
                {
                    "id": i + 1,
                    "debtor_id": i + 1,
                    "external_id": f"E-{i}",
                    "currency": "COP",
                    "amount_due_minor": 10_000_000 + i * 100,
                    "balance_minor": 10_000_000 + i * 100,
                    "due_date": date(2026, 11, 24) - timedelta(days=i % 20),
                    "status": "open",
                    "created_at": stamp,
                    "updated_at": stamp,
                }
            )
        s.execute(insert(Debtor), debtors)
        s.execute(insert(Account), accounts)
        s.execute(insert(ConsentRecord), consents)
        s.execute(insert(Conversation), conversations)
        s.commit()


def dispatch(app, env):
    from bot.db import session
    from bot.models import ScheduledMessage
    from bot.reminders import campaigns, dispatching

    with app.app_context():
        s = session()
        campaigns.schedule_campaign(s, "bench", "reminder.due.friendly", now=NOW)
        report = dispatching.dispatch(s, now=NOW, step_prefix="campaign:bench", enqueue=False)
        print(f"dispatch: {report.summary()}")
        ids = list(
            s.execute(
                select(ScheduledMessage.id)
                .where(ScheduledMessage.status == "queued", ScheduledMessage.channel == "email")
                .order_by(ScheduledMessage.id)
            ).scalars()
        )
        s.execute(
            ScheduledMessage.__table__.update()
            .where(ScheduledMessage.id.in_(ids))
            .values(expires_at=datetime(2100, 1, 1))
        )
        open_rules(s, Path(env["DATABASE_URL"][len("sqlite:///") :]).parent, env)
        s.commit()
        return ids


def send(app, env, ids, workers, rate, catcher):
    from bot.db import session
    from bot.models import ScheduledMessage
    from bot.tasks import queues

    with app.app_context():
        size = app.config["REMINDER_SEND_BATCH"]
        from bot.redis import redis_conn

        with redis_conn().pipeline() as pipe:
            for start in range(0, len(ids), size):
                queues.enqueue("send_reminders", ids[start : start + size], pipeline=pipe)
            pipe.execute()
    log_path = Path(env["DATABASE_URL"][len("sqlite:///") :]).parent / "workers.log"
    with open(log_path, "ab") as log:
        procs = [
            subprocess.Popen(
                [str(Path(sys.executable).parent / "flask"), "worker", "--burst"],
                cwd=ROOT,
                env={**env, "SEND_RATE_PER_SECOND": str(rate)},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            for _ in range(workers)
        ]
        deadline = time.monotonic() + max(120, len(ids) / 10)
        while len(catcher.received_at) < len(ids) and time.monotonic() < deadline:
            time.sleep(0.2)
        for proc in procs:
            proc.wait(timeout=120)
    if len(catcher.received_at) < len(ids):
        print(log_path.read_text(errors="replace")[-3000:])
    stamps = sorted(catcher.received_at)
    span = stamps[-1] - stamps[0] if len(stamps) > 1 else float("nan")
    with app.app_context():
        sent = (
            session()
            .execute(
                select(func.count())
                .select_from(ScheduledMessage)
                .where(ScheduledMessage.status == "sent", ScheduledMessage.channel == "email")
            )
            .scalar()
        )
    print(
        f"email: {len(stamps)} received by the local SMTP server in {span:.1f} s "
        f"({(len(stamps) - 1) / span:,.0f} messages/s) with the limit at {rate:g}/s and "
        f"{workers} worker(s); {sent} reminders marked sent"
    )
    sample = catcher.messages[0] if catcher.messages else None
    if sample is not None:
        print(
            f"each: multipart/alternative {sample.get_content_type() == 'multipart/alternative'},"
            f" List-Unsubscribe-Post {sample['List-Unsubscribe-Post']!r},"
            f" {len(sample.as_bytes()):,} bytes"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--debtors", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=1000, help="send limit per second")
    args = parser.parse_args()

    from bot import create_app

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        redis_proc, redis_url = start_redis(tmp)
        catcher = SmtpCatcher().start()
        env = {
            **os.environ,
            "APP_ENV": "test",
            "SECRET_KEY": "bench-" + "e" * 26,
            "DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
            "REDIS_URL": redis_url,
            "TWILIO_ACCOUNT_SID": "AC" + "3" * 32,
            "TWILIO_AUTH_TOKEN": "d" * 32,
            "TWILIO_API_BASE_URL": "http://127.0.0.1:9",
            "PUBLIC_BASE_URL": "http://127.0.0.1:9",
            "EMAIL_SMTP_HOST": catcher.host,
            "EMAIL_SMTP_PORT": str(catcher.port),
            "EMAIL_SMTP_TLS": "none",
            "EMAIL_FROM": "Cobranzas <cobros@bench.test>",
            "CREDITOR_NAME": "Bench Finanzas",
            "REMINDER_TICK": "0",
            "ACCRUAL_INTERVAL": "0",
            "AUTODEBIT_INTERVAL": "0",
            "LOG_LEVEL": "WARNING",
            "FLASK_APP": "bot",
        }
        os.environ.update(env)
        try:
            app = create_app()
            result = app.test_cli_runner().invoke(args=["db-upgrade"])
            assert result.exit_code == 0, result.output
            build(app, args.debtors)
            ids = dispatch(app, env)
            send(app, env, ids, args.workers, args.rate, catcher)
        finally:
            catcher.stop()
            redis_proc.terminate()
            redis_proc.wait(timeout=10)


if __name__ == "__main__":
    main()
