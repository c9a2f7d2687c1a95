"""Accrual benchmark: the daily job of interest and late fees over a million accounts.

Builds N accounts (default 1,000,000; SQLite in a scratch folder unless --database-url) with
their debtors in four zones, open ledgers (an opening charge each), 10 % on installment plans,
5 % paused by a dispute, 10 % not yet due and 5 % paid; a default policy (24 % a year capped at
the 26 % usury rate, a late fee after 5 days) and a portfolio whose rate changes mid-run. Then
it times the accrual job (bot.ledger.daily.run, what the worker's job runs) three times: the
first day (every overdue account accrues), the same instant again (idempotent: nothing to add)
and the next day; checks every balance equals the sum of its entries on a sample; prints the
figures.

    .venv/bin/python -m bench.accrual                      # 1,000,000 accounts, SQLite
    .venv/bin/python -m bench.accrual --accounts 100000
"""

import argparse
import os
import random
import resource
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

# 2026-12-01 15:00 UTC: the same date in Bogotá, Mexico City, New York and Santiago.
NOW = datetime(2026, 12, 1, 15, 0)
OPENED = date(2026, 11, 30)
ZONES = [
    ("CO", "+57300", "America/Bogota", "COP"),
    ("MX", "+5255", "America/Mexico_City", "MXN"),
    ("US", "+1202", "America/New_York", "USD"),
    ("CL", "+569", "America/Santiago", "CLP"),
]


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def policies(s):
    from bot.debts import policies as p
    from bot.models import PaymentPolicy

    default = p.get(s, "default")
    default.interest_rate_bps = 2400
    default.interest_max_rate_bps = 2600
    default.interest_max_total_bps = 5000
    default.late_fee_minor = 2_000
    default.late_fee_bps = 100
    default.late_fee_grace_days = 5
    # The "late" portfolio changes its rate from the second day of the run.
    for day, rate in ((date(2000, 1, 1), 3000), (NOW.date() + timedelta(days=1), 2000)):
        s.add(
            PaymentPolicy(
                portfolio="late",
                effective_from=day,
                interest_rate_bps=rate,
                interest_basis=360,
                late_fee_minor=5_000,
                late_fee_grace_days=0,
            )
        )
    s.commit()


def build(s, n, chunk=20_000):
    """Insert n debtors, accounts, ledgers and plans in chunks (bounded memory)."""
    from bot.models import (
        Account,
        Debtor,
        Installment,
        LedgerBalance,
        LedgerEntry,
        PaymentPlan,
    )

    rnd = random.Random(13)
    stamp = datetime(2026, 11, 30)
    plan_id = installment_id = 0
    for start in range(0, n, chunk):
        debtors, accounts, balances, opening, plans, installments = [], [], [], [], [], []
        for i in range(start, min(start + chunk, n)):
            country, prefix, zone, currency = ZONES[i % len(ZONES)]
            amount = rnd.randrange(50_000, 50_000_000)
            kind = i % 20  # 0-1 plan, 2 disputed, 3-4 not yet due, 5 paid, else open overdue
            status = {0: "plan", 1: "plan", 2: "disputed", 5: "paid"}.get(kind, "open")
            due = (
                NOW.date() + timedelta(days=10)
                if kind in (3, 4)
                else (NOW.date() - timedelta(days=1 + i % 90))
            )
            balance = 0 if status == "paid" else amount
            debtors.append(
                {
                    "id": i + 1,
                    "full_name": f"Debtor {i}",
                    "phone": f"{prefix}{i:08d}",
                    "locale": "es",
                    "country": country,
                    "timezone": zone,
                    "id_secret_hash": "x",
                    "id_secret_salt": "x",
                    "created_at": stamp,
                    "updated_at": stamp,
                }
            )
            accounts.append(
                {
                    "id": i + 1,
                    "debtor_id": i + 1,
                    "external_id": f"A-{i}",
                    "currency": currency,
                    "amount_due_minor": amount,
                    "balance_minor": balance,
                    "due_date": due,
                    "status": status,
                    "segment": "late" if i % 7 == 0 else None,
                    "created_at": stamp,
                    "updated_at": stamp,
                }
            )
            balances.append(
                {
                    "account_id": i + 1,
                    "principal_minor": balance,
                    "interest_minor": 0,
                    "fee_minor": 0,
                    "credit_minor": 0,
                    "interest_charged_minor": 0,
                    "accrued_through": OPENED,
                    "carry_nano": 0,
                    "opened_on": OPENED - timedelta(days=120),
                }
            )
            if balance:
                opening.append(
                    {
                        "account_id": i + 1,
                        "kind": "charge",
                        "bucket": "principal",
                        "amount_minor": balance,
                        "currency": currency,
                        "effective_date": OPENED,
                        "key": "opening",
                        "actor": "bench",
                        "created_at": stamp,
                    }
                )
            if status == "plan":
                plan_id += 1
                plans.append(
                    {
                        "id": plan_id,
                        "account_id": i + 1,
                        "status": "active",
                        "total_minor": balance,
                        "fee_minor": 0,
                        "created_by": "bench",
                        "created_at": stamp,
                        "updated_at": stamp,
                    }
                )
                each = balance // 3
                for seq in range(3):
                    installment_id += 1
                    installments.append(
                        {
                            "id": installment_id,
                            "plan_id": plan_id,
                            "seq": seq + 1,
                            "due_date": NOW.date() + timedelta(days=30 * seq - 8),
                            "amount_minor": balance - 2 * each if seq == 0 else each,
                            "paid_minor": 0,
                            "status": "due",
                        }
                    )
        s.execute(insert(Debtor), debtors)
        s.execute(insert(Account), accounts)
        s.execute(insert(LedgerBalance), balances)
        s.execute(insert(LedgerEntry), opening)
        if plans:
            s.execute(insert(PaymentPlan), plans)
            s.execute(insert(Installment), installments)
        s.commit()


def timed_run(s, label, now, n):
    from bot.ledger import daily

    t0, cpu = time.perf_counter(), time.process_time()
    report = daily.run(s, now=now)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu
    print(
        f"{label}: {seconds:.1f} s ({n / seconds:,.0f} accounts/s; this process's CPU "
        f"{cpu:.1f} s); {report.summary()}; "
        f"interest {report.interest_minor:,} and fees {report.fee_minor:,} minor units"
    )
    return report, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument(
        "--database-url", default=None, help="an empty database (default: SQLite in a temp dir)"
    )
    args = parser.parse_args()

    from bot import create_app
    from bot.db import session
    from bot.ledger import entries
    from bot.models import LedgerEntry

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        os.environ.update({"APP_ENV": "test", "LOG_LEVEL": "WARNING"})
        app = create_app({"DATABASE_URL": url, "APP_ENV": "test", "LOG_LEVEL": "WARNING"})
        result = app.test_cli_runner().invoke(args=["db-upgrade"])
        assert result.exit_code == 0, result.output
        with app.app_context():
            s = session()
            policies(s)
            t0 = time.perf_counter()
            build(s, args.accounts)
            print(f"built {args.accounts:,} accounts in {time.perf_counter() - t0:.1f} s")
            rss = peak_rss_mib()
            _, first = timed_run(s, "day 1 (every overdue account accrues)", NOW, args.accounts)
            _, again = timed_run(s, "day 1 again (idempotent)", NOW, args.accounts)
            _, second = timed_run(
                s, "day 2 (a portfolio's rate changes)", NOW + timedelta(days=1), args.accounts
            )
            count = s.execute(select(func.count(LedgerEntry.id))).scalar()
            sample = list(range(1, args.accounts + 1, max(args.accounts // 5000, 1)))
            problems = entries.verify(s, sample)
            print(
                f"ledger entries: {count:,}; sampled {len(sample)} accounts: "
                f"{'every balance equals the sum of its entries' if not problems else problems[:3]}"
            )
            if url.startswith("sqlite"):
                size = Path(url.removeprefix("sqlite:///")).stat().st_size / 2**20
                print(f"database: {size:,.0f} MiB")
            print(
                f"peak RSS: {rss:.0f} MiB after building, {peak_rss_mib():.0f} MiB after the runs"
            )
            verdict = "under" if max(first, second) < 300 else "OVER"
            print(f"target: a run over {args.accounts:,} accounts in under 5 minutes: {verdict}")


if __name__ == "__main__":
    main()
