"""Webhook acknowledgement latency at N concurrent senders, against the real stack.

Each request is a correctly signed Twilio inbound webhook with a fresh MessageSid, posted with
aiohttp from one client process; workers, Rasa and the action server answer meanwhile, as in
production. Prints p50/p95/p99 and the peak memory of each process.

Two modes:
- closed loop (default): every sender posts its next message as soon as the last is
  acknowledged: the saturation throughput, latency mostly queueing;
- open loop (--rate R): the senders together post R messages per second on a fixed schedule,
  as debtors do, whatever the server's speed: the latency a debtor's message meets.

    .venv/bin/python -m bench.webhook_ack [--senders 50] [--per-sender 20] [--rate 20]
"""

import argparse
import asyncio
import time
import uuid

import aiohttp

from .common import running_stack, stack_arguments, summary


async def sender(session, stack, forms, latencies, errors, interval=0.0, offset=0.0):
    url = stack.base_url + "/webhooks/twilio/messages"
    loop = asyncio.get_running_loop()
    due = loop.time() + offset
    for form in forms:
        if interval:
            await asyncio.sleep(max(0.0, due - loop.time()))
            due += interval
        headers = {"X-Twilio-Signature": stack.sign("/webhooks/twilio/messages", form)}
        start = time.perf_counter()
        async with session.post(url, data=form, headers=headers) as response:
            await response.read()
            if response.status != 200:
                errors.append(response.status)
        latencies.append(time.perf_counter() - start)


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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--per-sender", type=int, default=20)
    parser.add_argument("--rate", type=float, default=0.0, help="open loop: messages/s in all")
    stack_arguments(parser)
    args = parser.parse_args()
    with running_stack(args) as stack:
        latencies, errors, elapsed = asyncio.run(
            run(stack, args.senders, args.per_sender, args.rate)
        )
        mode = f"open loop at {args.rate:g} messages/s" if args.rate else "closed loop"
        print(f"{args.senders} concurrent senders, {len(latencies)} signed webhooks, {mode}")
        print(summary("acknowledgement", latencies))
        print(f"throughput: {len(latencies) / elapsed:.0f} requests/s; non-200: {len(errors)}")


if __name__ == "__main__":
    main()
