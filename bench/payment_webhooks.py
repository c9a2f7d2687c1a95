"""Provider webhooks under concurrency: latency, throughput, and that every payment applies once.

Starts redis-server and the web app under gunicorn (no Rasa or workers: a webhook does not
need them; the thank-you messages stay queued), imports N debtors, opens one sandbox checkout
per account, then posts every signed checkout.session.completed twice (a provider redelivering),
in random order, from S concurrent senders. Prints latency percentiles, throughput, the HTTP
statuses, and checks the database: N payments, each balance reduced once, N thank-yous.

    .venv/bin/python -m bench.payment_webhooks [--accounts 200] [--senders 20]
"""

import argparse
import asyncio
import json
import random
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp
import requests
from sqlalchemy import create_engine, text

from bot.config import load_config
from bot.payments.providers import sign
from bot.testing.stack import BIN

from .common import Stack, summary


def start(tmp, accounts):
    stack = Stack(tmp)
    stack.twilio.start()
    stack.env["TWILIO_API_BASE_URL"] = stack.twilio.url
    port = str(stack.ports["redis"])
    stack._spawn(
        "redis",
        ["redis-server", "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no"],
    )
    stack._wait(lambda: stack.redis.ping(), "redis")
    stack._run("db-upgrade")
    csv = Path(tmp) / "debtors.csv"
    lines = ["external_id,full_name,phone,country,locale,currency,amount_due,due_date,id_last4"]
    lines += [
        f"BENCH-{i},Debtor {i},+1202555{i:04d},US,en-US,USD,100.00,2026-11-20,{i % 10000:04d}"
        for i in range(accounts)
    ]
    csv.write_text("\n".join(lines) + "\n")
    stack._run("import-debts", str(csv))
    engine = create_engine(stack.env["DATABASE_URL"], future=True)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO checkouts (created_at, updated_at, account_id, provider, provider_ref,"
                " purpose, amount_minor, currency, status) SELECT datetime('now'), datetime('now'),"
                " id, 'sandbox', 'cs_bench_' || id, 'full', 4000, currency, 'open' FROM accounts"
                " WHERE external_id LIKE 'BENCH-%'"
            )
        )
    stack._spawn(
        "web",
        [
            str(BIN / "gunicorn"),
            "--bind",
            f"127.0.0.1:{stack.ports['web']}",
            "--workers",
            "2",
            "--threads",
            "4",
            "bot:create_app()",
        ],
    )
    stack._wait(lambda: requests.get(stack.base_url + "/healthz", timeout=1).ok, "web")
    return stack, engine


def events(engine, secret):
    with engine.connect() as conn:
        refs = [r for (r,) in conn.execute(text("SELECT provider_ref FROM checkouts"))]
    out = []
    for ref in refs:
        event = {
            "id": "evt_" + ref,
            "type": "checkout.session.completed",
            "data": {
                "object": {
                    "id": ref,
                    "amount_total": 4000,
                    "currency": "usd",
                    "payment_status": "paid",
                }
            },
        }
        payload = json.dumps(event).encode()
        out.append(payload)
    deliveries = out + out  # every event delivered twice
    random.shuffle(deliveries)
    return [(p, {"Sandbox-Signature": sign(p, secret)}) for p in deliveries]


async def post_all(url, deliveries, senders):
    latencies, statuses, outcomes = [], Counter(), Counter()
    queue = asyncio.Queue()
    for item in deliveries:
        queue.put_nowait(item)

    async def sender(session):
        while not queue.empty():
            payload, headers = queue.get_nowait()
            start = time.perf_counter()
            async with session.post(url, data=payload, headers=headers) as response:
                body = await response.read()
            latencies.append(time.perf_counter() - start)
            statuses[response.status] += 1
            if response.status == 200:
                outcomes[json.loads(body)["outcome"]] += 1

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=senders)) as session:
        started = time.perf_counter()
        await asyncio.gather(*(sender(session) for _ in range(senders)))
        elapsed = time.perf_counter() - started
    return latencies, statuses, outcomes, elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--senders", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stack, engine = start(tmp, args.accounts)
        try:
            secret = load_config({"SECRET_KEY": stack.env["SECRET_KEY"]})["SANDBOX_PAYMENT_SECRET"]
            deliveries = events(engine, secret)
            latencies, statuses, outcomes, elapsed = asyncio.run(
                post_all(stack.base_url + "/pay/webhooks/sandbox", deliveries, args.senders)
            )
            with engine.connect() as conn:
                payments = conn.execute(text("SELECT COUNT(*) FROM payments")).scalar()
                wrong = conn.execute(
                    text(
                        "SELECT COUNT(*) FROM accounts WHERE external_id LIKE 'BENCH-%' "
                        "AND balance_minor != 6000"
                    )
                ).scalar()
                thanks = conn.execute(
                    text("SELECT COUNT(*) FROM messages WHERE template_key = 'payment.thanks'")
                ).scalar()
        finally:
            engine.dispose()
            stack.stop()
    print(
        f"{args.accounts} checkouts, {len(deliveries)} signed webhooks (each event twice), "
        f"{args.senders} concurrent senders, SQLite, gunicorn 2 workers x 4 threads"
    )
    print(summary("webhook", latencies))
    print(f"throughput: {len(latencies) / elapsed:.0f} webhooks/s")
    print(f"HTTP statuses: {dict(statuses)}; outcomes: {dict(outcomes)}")
    print(
        f"payments: {payments} (expected {args.accounts}); accounts not reduced exactly once: "
        f"{wrong}; thank-you messages: {thanks}"
    )


if __name__ == "__main__":
    main()
