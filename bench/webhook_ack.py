"""Webhook acknowledgement latency at N concurrent senders, against the real stack.

Each request is a correctly signed Twilio inbound webhook with a fresh MessageSid, posted with
aiohttp from one client process; workers, Rasa and the action server answer meanwhile, as in
production. Prints p50/p95/p99 and the peak memory of each process.

Three modes:
- closed loop (default): every sender posts its next message as soon as the last is
  acknowledged: the saturation throughput, latency mostly queueing;
- open loop (--rate R): the senders together post R messages per second on a fixed schedule,
  as debtors do, whatever the server's speed: the latency a debtor's message meets;
- burst (--burst N): N imported debtors each write once, all at once (a campaign's replies
  arriving together), offered at the highest rate this generator reaches (or open loop at
  --rate, each acknowledgement timed from its scheduled instant); the CPU each process used
  during the burst is printed; then the backlog is watched until every message is answered
  (or --drain seconds pass). Rasa, the workers and the action server run at --nice 10 (the
  Procfiles' priority); --nice 0 runs them at the web tier's.

    .venv/bin/python -m bench.webhook_ack [--senders 50] [--per-sender 20] [--rate 20]
    .venv/bin/python -m bench.webhook_ack --burst 1000 [--connections 200] [--drain 600]
    .venv/bin/python -m bench.webhook_ack --cpu 1000   # CPU per acknowledgement, in-process
"""

import argparse
import asyncio
import csv
import time
import uuid

import aiohttp

from .common import cpu_seconds, running_stack, stack_arguments, summary


async def sender(
    session, stack, forms, latencies, errors, interval=0.0, offset=0.0, signed=None, lags=None
):
    """Post forms one after another (every interval seconds from offset, when given). A
    scheduled request's latency runs from its scheduled instant, so a generator or a server
    that falls behind is counted, not hidden; lags gets how late each was put on the wire."""
    url = stack.base_url + "/webhooks/twilio/messages"
    loop = asyncio.get_running_loop()
    due = loop.time() + offset
    for i, form in enumerate(forms):
        scheduled = bool(interval or offset)
        if scheduled:
            await asyncio.sleep(max(0.0, due - loop.time()))
        signature = signed[i] if signed else stack.sign("/webhooks/twilio/messages", form)
        headers = {"X-Twilio-Signature": signature}
        start = due if scheduled else loop.time()
        if lags is not None:
            lags.append(loop.time() - start)
        due += interval
        async with session.post(url, data=form, headers=headers) as response:
            await response.read()
            if response.status != 200:
                errors.append(response.status)
        latencies.append(loop.time() - start)


async def run(stack, senders, per_sender, rate=0.0):
    plans = []
    for i in range(senders):
        phone = f"+5730012{i:05d}"
        plans.append(
            [
                stack.inbound_form(phone, f"hola {j}", sid="SM" + uuid.uuid4().hex)
                for j in range(per_sender)
            ]
        )
    latencies, errors = [], []
    connector = aiohttp.TCPConnector(limit=senders)
    async with aiohttp.ClientSession(connector=connector) as session:
        # Warm up: connections and the web workers' first requests.
        await sender(session, stack, [stack.inbound_form("+573001299999", "hola")], [], [])
        started = time.perf_counter()
        interval = senders / rate if rate else 0.0
        await asyncio.gather(
            *(
                sender(session, stack, p, latencies, errors, interval, interval * i / senders)
                for i, p in enumerate(plans)
            )
        )
        elapsed = time.perf_counter() - started
    return latencies, errors, elapsed


def burst_debtors(stack, count):
    """Import count debtors with distinct numbers; return their numbers."""
    phones = [f"+57301{i:07d}" for i in range(count)]
    path = stack.workdir / "burst.csv"
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(
            "external_id,full_name,phone,country,locale,currency,amount_due,due_date,id_last4".split(
                ","
            )
        )
        for i, phone in enumerate(phones):
            out.writerow(
                [
                    f"BURST-{i}",
                    f"Deudor {i}",
                    phone,
                    "CO",
                    "es-CO",
                    "COP",
                    "150000.00",
                    "2026-12-01",
                    f"{i % 10000:04d}",
                ]
            )
    stack._run("import-debts", str(path))
    return phones


async def burst(stack, phones, connections, rate=0.0):
    """One message from each number, all offered at once (or at rate per second, open loop).
    Signatures are computed beforehand: the generator's CPU goes to sending."""
    forms = [stack.inbound_form(phone, "hola") for phone in phones]
    signed = [stack.sign("/webhooks/twilio/messages", form) for form in forms]
    latencies, errors, lags = [], [], []
    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await sender(session, stack, [stack.inbound_form("+573001299999", "hola")], [], [])
        started = time.perf_counter()
        interval = 1 / rate if rate else 0.0
        await asyncio.gather(
            *(
                sender(session, stack, [form], latencies, errors, 0.0, interval * i, [sig], lags)
                for i, (form, sig) in enumerate(zip(forms, signed, strict=True))
            )
        )
        elapsed = time.perf_counter() - started
    return latencies, errors, elapsed, lags


def drain(stack, count, timeout):
    """Seconds until every burst message is answered (or None), printing progress."""
    started = time.perf_counter()

    def answered():
        return stack.query(
            "SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id "
            "WHERE m.direction = 'in' AND m.status != 'received' AND c.address LIKE '+57301%'"
        )[0][0]

    marks = [30, 60, 120, 240, 480]
    while True:
        done = answered()
        waited = time.perf_counter() - started
        while marks and waited >= marks[0]:
            print(f"  answered after {marks.pop(0)} s: {done} of {count}")
        if done >= count:
            return waited
        if waited > timeout:
            return None
        time.sleep(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--per-sender", type=int, default=20)
    parser.add_argument("--rate", type=float, default=0.0, help="open loop: messages/s in all")
    parser.add_argument("--burst", type=int, default=0, help="debtors writing once, at once")
    parser.add_argument("--connections", type=int, default=200, help="burst: client connections")
    parser.add_argument("--drain", type=float, default=600, help="burst: seconds to watch")
    stack_arguments(parser)
    parser.add_argument("--cpu", type=int, default=0, help="in-process CPU per acknowledgement")
    args = parser.parse_args()
    if args.cpu:
        return main_cpu(args.cpu)
    if args.burst:
        return main_burst(args)
    with running_stack(args) as stack:
        latencies, errors, elapsed = asyncio.run(
            run(stack, args.senders, args.per_sender, args.rate)
        )
        mode = f"open loop at {args.rate:g} messages/s" if args.rate else "closed loop"
        print(f"{args.senders} concurrent senders, {len(latencies)} signed webhooks, {mode}")
        print(summary("acknowledgement", latencies))
        print(f"throughput: {len(latencies) / elapsed:.0f} requests/s; non-200: {len(errors)}")


def main_cpu(count):
    """CPU time of one acknowledgement (new debtor, new conversation), measured in-process
    with the Flask test client, SQLite and a real redis-server: what one web core sustains."""
    import tempfile

    from twilio.request_validator import RequestValidator

    from bot import create_app
    from bot.testing.stack import Stack

    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(tmp)
        stack.start_base()
        try:
            app = create_app(
                {
                    "APP_ENV": "test",
                    "DATABASE_URL": stack.env["DATABASE_URL"],
                    "REDIS_URL": stack.env["REDIS_URL"],
                    "PUBLIC_BASE_URL": "https://bot.example.test",
                }
            )
            client = app.test_client()
            validator = RequestValidator(app.config["TWILIO_AUTH_TOKEN"])
            url = "https://bot.example.test/webhooks/twilio/messages"
            forms = []
            for i in range(count + 50):
                form = {
                    "MessageSid": "SM" + uuid.uuid4().hex,
                    "From": f"whatsapp:+57301{i:07d}",
                    "To": "whatsapp:+14155238886",
                    "Body": "hola",
                    "NumMedia": "0",
                }
                forms.append((form, validator.compute_signature(url, form)))
            for form, signature in forms[:50]:  # warm up
                client.post(url, data=form, headers={"X-Twilio-Signature": signature})
            cpu, wall = _timed(client, url, forms[50:], 200)
            # Twilio's ~4 delivery-status callbacks per reply (queued, sent, delivered, read),
            # each moving one outbound message forward: as cheap as an acknowledgement.
            status_url = "https://bot.example.test/webhooks/twilio/status"
            sids = _outbound_messages(app, count + 50)
            callbacks = []
            for state in ("queued", "sent", "delivered", "read"):
                for sid in sids:
                    form = _status_form(sid, state)
                    callbacks.append((form, validator.compute_signature(status_url, form)))
            warm = 50 * 4
            status_cpu, status_wall = _timed(client, status_url, callbacks[:warm], 204)
            status_cpu, status_wall = _timed(client, status_url, callbacks[warm:], 204)
            app.extensions["db"].engine.dispose()
        finally:
            stack.stop()
    print(
        f"{count} acknowledgements in-process: {cpu * 1000:.2f} ms CPU each "
        f"(wall {wall * 1000:.2f} ms)"
    )
    print(
        f"{len(callbacks) - warm} status callbacks in-process: {status_cpu * 1000:.2f} ms CPU "
        f"each (wall {status_wall * 1000:.2f} ms); {status_cpu / cpu:.2f}x an acknowledgement"
    )
    print(f"one web core sustains about {1 / cpu:.0f} inbound messages/s")
    print(
        "with 4 status callbacks per reply, about "
        f"{1 / (cpu + 4 * status_cpu):.0f} turns/s (one ack, one reply)"
    )


def _timed(client, url, forms, expected):
    """CPU and wall seconds per request of posting forms (signed) with the test client."""
    cpu, wall = time.process_time(), time.perf_counter()
    for form, signature in forms:
        response = client.post(url, data=form, headers={"X-Twilio-Signature": signature})
        assert response.status_code == expected, response.status_code
    n = max(1, len(forms))
    return (time.process_time() - cpu) / n, (time.perf_counter() - wall) / n


def _outbound_messages(app, count):
    """One sent reply in each conversation the acknowledgements opened; their SIDs."""
    from sqlalchemy import insert, select

    from bot.models import Message

    db = app.extensions["db"]
    with db.engine.begin() as conn:
        ids = conn.execute(select(Message.conversation_id).limit(count)).scalars().all()
        sids = ["SM" + uuid.uuid4().hex for _ in ids]
        conn.execute(
            insert(Message),
            [
                {
                    "conversation_id": cid,
                    "direction": "out",
                    "provider_sid": sid,
                    "status": "sending",
                    "body": "Hola",
                }
                for cid, sid in zip(ids, sids, strict=True)
            ],
        )
    return sids


def _status_form(sid, status):
    """The form Twilio posts for a WhatsApp message's status."""
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "SmsStatus": status,
        "MessageStatus": status,
        "AccountSid": "AC" + "1" * 32,
        "From": "whatsapp:+14155238886",
        "To": "whatsapp:+573010000000",
        "ApiVersion": "2010-04-01",
        "ChannelToAddress": "+573010000000",
        "ChannelPrefix": "whatsapp",
    }


def main_burst(args):
    with running_stack(args) as stack:
        phones = burst_debtors(stack, args.burst)
        groups = ("web", "worker", "rasa", "actions", "redis")
        before = {g: cpu_seconds(stack, g) for g in groups}
        own = time.process_time()
        latencies, errors, elapsed, lags = asyncio.run(
            burst(stack, phones, args.connections, args.rate)
        )
        used = {g: cpu_seconds(stack, g) - before[g] for g in groups}
        used["generator"] = time.process_time() - own
        offered = f"at {args.rate:g}/s" if args.rate else "as fast as the generator goes"
        print(f"burst: {len(latencies)} signed webhooks from distinct debtors, {offered}")
        print(f"offered rate reached: {len(latencies) / elapsed:.0f} requests/s")
        print(summary("acknowledgement", latencies))
        if args.rate:
            print(summary("generator lag (sent after its instant)", lags))
        print(f"non-200: {len(errors)} {sorted(set(errors))}")
        print(
            f"CPU during the burst's {elapsed:.1f} s: "
            + ", ".join(f"{g} {used[g]:.1f} s" for g in (*groups, "generator"))
        )
        seconds = drain(stack, args.burst, args.drain)
        if seconds is None:
            print(f"not all answered within {args.drain:g} s")
        else:
            print(
                f"all {args.burst} answered in {seconds:.0f} s: {args.burst / seconds:.1f} turns/s"
            )


if __name__ == "__main__":
    main()
