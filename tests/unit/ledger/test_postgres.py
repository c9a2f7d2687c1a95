"""The ledger on a real PostgreSQL (production's database): the migration from an existing
schema (its constraint names are PostgreSQL's), the daily accrual's bulk writes (the driver's
own parameter style), idempotence and balances equal to their entries."""

import os
import shutil
import subprocess
import tempfile
from datetime import date, datetime
from glob import glob
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text, update

from bot import create_app
from bot.db import session as db_session
from bot.debts import policies
from bot.debts.imports import import_csv
from bot.ledger import daily, entries
from bot.models import Account, LedgerBalance, LedgerEntry
from bot.payments import reconcile
from tests.conftest import DEMO_CSV, free_port


def _bin(name):
    found = shutil.which(name) or (sorted(glob(f"/usr/lib/postgresql/*/bin/{name}")) or [None])[-1]
    if found is None:
        pytest.fail("PostgreSQL is not installed; run `make install` (Debian package postgresql)")
    return found


@pytest.fixture(scope="module")
def postgres():
    """A throwaway PostgreSQL cluster on a free port (as the postgres user when run as root)."""
    root = Path(tempfile.mkdtemp(prefix="pg-ledger-"))
    root.chmod(0o755)
    data = root / "data"
    data.mkdir()
    as_user = []
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run(
        [*as_user, _bin("initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [
            *as_user,
            _bin("pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-w",
            "-l",
            str(data / "log"),
            "start",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
    subprocess.run(
        [*as_user, _bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
        stdout=subprocess.DEVNULL,
    )
    shutil.rmtree(root, ignore_errors=True)


def test_the_ledger_on_postgresql(postgres, redis_server):
    from alembic import command

    from bot.cli.setup import alembic_config

    app = create_app({"APP_ENV": "test", "DATABASE_URL": postgres, "REDIS_URL": redis_server})
    with app.app_context():
        cfg = alembic_config()
        cfg.attributes["configure_logger"] = False
        command.upgrade(cfg, "0011_resilience")
        # An account from before the ledger: the migration opens its ledger.
        engine = create_engine(postgres)
        with engine.begin() as c:
            c.execute(
                text(
                    "INSERT INTO debtors (full_name, phone, locale, country, id_secret_hash, "
                    "id_secret_salt, created_at, updated_at) VALUES ('Old', '+573000000009', "
                    "'es', 'CO', 'h', 's', now(), now())"
                )
            )
            c.execute(
                text(
                    "INSERT INTO accounts (debtor_id, external_id, currency, amount_due_minor, "
                    "balance_minor, due_date, status, created_at, updated_at) SELECT id, 'OLD-1', "
                    "'COP', 500000, 500000, '2026-10-01', 'open', now(), now() FROM debtors"
                )
            )
        command.upgrade(cfg, "head")
        s = db_session()
        with DEMO_CSV.open("rb") as fh:
            assert not import_csv(s, fh).errors
        policy = policies.get(s, "default")
        policy.interest_rate_bps, policy.late_fee_minor = 3650, 5_000
        s.execute(
            update(LedgerBalance).values(
                opened_on=date(2026, 11, 20), accrued_through=date(2026, 11, 20)
            )
        )
        s.commit()
        first = daily.run(s, now=datetime(2026, 11, 25, 15, 0))
        count = s.execute(select(func.count(LedgerEntry.id))).scalar()
        again = daily.run(s, now=datetime(2026, 11, 25, 15, 0))
        assert first.accrued == 6 and first.entries > 0 and again.accrued == 0
        assert s.execute(select(func.count(LedgerEntry.id))).scalar() == count
        camila = s.execute(select(Account).where(Account.external_id == "DEMO-CO-001")).scalar_one()
        s.refresh(camila)
        assert camila.balance_minor == 15_000_000 + 5 * 15_000
        reconcile.apply_payment(s, camila, 1_000_000, "manual", "pg1", today=date(2026, 11, 26))
        s.commit()
        assert entries.verify(s) == []
        s.close()  # a transaction left open would hold the tables the downgrade drops
        command.downgrade(cfg, "0011_resilience")
        command.upgrade(cfg, "head")
        engine.dispose()
    app.extensions["db"].engine.dispose()
