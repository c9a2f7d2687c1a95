"""Results dashboard benchmark: generate a history of N accounts and M messages, compute the
daily aggregates with the real job, then time the dashboard page (the whole request: sign-in
session, filters, every section, the variant comparison, rendering) for random periods and
filters. PostgreSQL runs in a throwaway cluster started here (Debian's postgresql package).

  .venv/bin/python -m bench.dashboard --backend postgresql --accounts 1000000 --messages 10000000
  .venv/bin/python -m bench.dashboard --backend sqlite --accounts 100000 --messages 1000000
"""

import argparse
import os
import random
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from bench.common import percentile
from bench.dashboard_data import SEGMENTS, TEMPLATES, default_end, generate
from bot import create_app, users
from bot.db import session as db_session
from tests.conftest import free_port
from tests.console import PASSWORD, sign_in

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _pg_bin(name):
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not candidates:
        raise SystemExit("PostgreSQL is not installed: apt-get install postgresql")
    return str(candidates[-1])


def _as_postgres(args):
    """Run a PostgreSQL tool as the postgres user when we are root (initdb refuses root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


@contextmanager
def postgres(folder):
    """A throwaway cluster on a free port: trust auth on 127.0.0.1, no fsync (data is
    disposable; reads, which the benchmark measures, do not depend on it)."""
    data = Path(folder) / "pg"
    fresh = not data.exists()
    if fresh:
        data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        shutil.chown(data, "postgres")
    port = free_port()
    if fresh:
        subprocess.run(
            _as_postgres([_pg_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]),
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    options = (
        f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c shared_buffers=2GB "
        "-c work_mem=64MB -c maintenance_work_mem=512MB -c max_wal_size=8GB"
    )
    subprocess.run(
        _as_postgres([_pg_bin("pg_ctl"), "-D", str(data), "-o", options, "-w", "-l",
                      str(data / "log"), "start"]),
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        if fresh:
            subprocess.run(
                _as_postgres([_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U",
                              "postgres", "bench"]),
                check=True,
            )  # fmt: skip
        yield f"postgresql://postgres@127.0.0.1:{port}/bench"
    finally:
        subprocess.run(
            _as_postgres([_pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
            stdout=subprocess.DEVNULL,
        )


@contextmanager
def redis_server(folder):
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", folder],
        stdout=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.3)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def requests_to_make(rng, count, last_day):
    """Random periods (a week, a month, a quarter) and filters, as an admin would click."""
    filters = [
        {},
        {"segment": lambda: rng.choice(SEGMENTS)},
        {"template_key": lambda: rng.choice(TEMPLATES)},
        {"country": lambda: rng.choice(("CO", "MX", "CL", "PE", "US"))},
        {"channel": lambda: rng.choice(("whatsapp", "sms"))},
        {"portfolio": lambda: rng.choice(("retail", "telco", "utilities"))},
        {"template_key": lambda: TEMPLATES[4], "variant_id": lambda: rng.choice(("1", "2"))},
        {"currency": lambda: "COP", "segment": lambda: rng.choice(SEGMENTS)},
    ]
    out = []
    for _ in range(count):
        days = rng.choice((7, 30, 30, 90))
        end = last_day - timedelta(days=rng.randint(0, 10))
        args = {"start": (end - timedelta(days=days - 1)).isoformat(), "end": end.isoformat()}
        for name, value in rng.choice(filters).items():
            args[name] = value()
        out.append("&".join(f"{k}={v}" for k, v in args.items()))
    return out


@contextmanager
def _folder(keep):
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        yield str(Path(keep).resolve())
    else:
        with tempfile.TemporaryDirectory() as folder:
            yield folder


def run(args):
    end = default_end()
    with _folder(args.keep) as folder, redis_server(folder) as redis_url:
        ready = Path(folder) / f"ready-{args.backend}"
        if args.backend == "postgresql":
            database = postgres(folder)
        else:
            database = _sqlite(folder)
        with database as url:
            app = create_app(
                {"APP_ENV": "test", "DATABASE_URL": url, "REDIS_URL": redis_url,
                 "PUBLIC_BASE_URL": "https://bench.example.test"}
            )  # fmt: skip
            if not ready.exists():
                result = app.test_cli_runner().invoke(args=["db-upgrade"])
                assert result.exit_code == 0, result.output
                engine = app.extensions["db"].engine
                started = time.monotonic()
                made = generate(engine, args.accounts, args.messages, args.days, end)
                print(
                    f"generated {made['accounts']:,} accounts, {made['messages']:,} messages "
                    f"({made['reminders']:,} reminders), {made['payments']:,} payments, "
                    f"{made['promises']:,} promises in {time.monotonic() - started:.0f} s"
                )
                with app.app_context():
                    _rollup(db_session(), made, end)
                ready.touch()
            else:
                print(f"reusing the data in {folder} (--keep)")
            with app.app_context():
                _measure(app, args, end)


@contextmanager
def _sqlite(folder):
    yield f"sqlite:///{folder}/bench.db"


def _rollup(session, made, end):
    from bot.analytics import rollup
    from bot.models import DailyFact

    now = datetime.combine(end, datetime.min.time()) + timedelta(days=1, hours=12)
    started = time.monotonic()
    times = []
    day = made["first_day"] - timedelta(days=1)
    while day <= made["last_day"]:
        t = time.monotonic()
        rollup.rollup_day(session, day, now=now)
        times.append(time.monotonic() - t)
        day += timedelta(days=1)
    rows = session.execute(select(func.count()).select_from(DailyFact)).scalar()
    print(
        f"daily job: {len(times)} days in {time.monotonic() - started:.0f} s "
        f"(per day p50 {percentile(times, 50):.2f} s, max {max(times):.2f} s); "
        f"{rows:,} aggregate rows"
    )


def _measure(app, args, end):
    app.config["PROPAGATE_EXCEPTIONS"] = True  # a failing page stops the benchmark loudly
    s = db_session()
    users.create_user(s, "bench@example.com", PASSWORD, "admin")  # or reset its password
    s.commit()
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "es"
    assert sign_in(client, "bench@example.com").status_code == 302
    rng = random.Random(15)
    queries = requests_to_make(rng, args.requests, end)
    for query in queries[:3]:  # warm the caches and the compiled statements
        client.get(f"/console/admin/results/?{query}")
    seconds = []
    for query in queries:
        t = time.monotonic()
        answer = client.get(f"/console/admin/results/?{query}")
        seconds.append(time.monotonic() - t)
        assert answer.status_code == 200, (query, answer.status_code)
    ms = [x * 1000 for x in seconds]
    print(
        f"dashboard page ({args.backend}, {args.accounts:,} accounts, {args.messages:,} "
        f"messages): n={len(ms)} p50={percentile(ms, 50):.0f} ms p95={percentile(ms, 95):.0f} ms "
        f"max={max(ms):.0f} ms"
    )
    csv = []
    for query in queries[:20]:
        t = time.monotonic()
        client.get(f"/console/admin/results/export/funnel.csv?{query}")
        csv.append((time.monotonic() - t) * 1000)
    print(f"CSV export (funnel): p50={percentile(csv, 50):.0f} ms max={max(csv):.0f} ms")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument(
        "--keep", help="keep the database in this folder; a second run only measures the page"
    )
    run(parser.parse_args())


if __name__ == "__main__":
    main()
