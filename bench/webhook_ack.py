"""Webhook acknowledgement latency at N concurrent senders, against the real stack.

Each request is a correctly signed Twilio inbound webhook with a fresh MessageSid, posted with
aiohttp from one client process; workers, Rasa and the action server answer meanwhile, as in
production. Prints p50/p95/p99 and the peak memory of each process.

    .venv/bin/python -m bench.webhook_ack [--senders 50] [--per-sender 20]
"""

import argparse
import asyncio
import tempfile
import time
import uuid

import aiohttp

from .common import print_memory, start_stack, summary


async def sender(session, stack, forms, latencies, errors):
    url = stack.base_url + "/webhooks/twilio/messages"
    for form in forms:
        headers = {"X-Twilio-Signature": stack.sign("/webhooks/twilio/messages", form)}
        start = time.perf_counter()
        async with session.post(url, data=form, headers=headers) as response:
            await response.read()
            if response.status != 200:
                errors.append(response.status)
        latencies.append(time.perf_counter() - start)


async def run(stack, senders, per_sender):
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
        await asyncio.gather(*(sender(session, stack, p, latencies, errors) for p in plans))
        elapsed = time.perf_counter() - started
    return latencies, errors, elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--per-sender", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--fork", action="store_true", help="fork a work-horse per job")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stack = start_stack(tmp, args.workers, args.fork)
        try:
            latencies, errors, elapsed = asyncio.run(run(stack, args.senders, args.per_sender))
            print(f"{args.senders} concurrent senders, {len(latencies)} signed webhooks")
            print(summary("acknowledgement", latencies))
            print(f"throughput: {len(latencies) / elapsed:.0f} requests/s; non-200: {len(errors)}")
            print_memory(stack)
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
