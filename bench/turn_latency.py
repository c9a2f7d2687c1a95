"""End-to-end turn latency: signed inbound webhook -> the Twilio send request, real stack.

For each of N conversations (distinct numbers) a "hola" is posted; the clock stops when the
local Twilio-compatible server receives the first reply and the last reply of that turn
(greeting + verification question: two messages, each a Rasa response rendered from the
template store and sent with the real twilio client). Also prints the CPU time the Rasa
process(es) spent per measured turn (from /proc/<pid>/stat before and after the run).

    .venv/bin/python -m bench.turn_latency [--conversations 200] [--concurrency 4]
"""

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from .common import cpu_seconds, running_stack, stack_arguments, summary


def one_turn(stack, i, session):
    phone = f"+5730013{i:05d}"
    address = f"whatsapp:{phone}"
    form = stack.inbound_form(phone, "hola")
    start_mono = time.monotonic()
    stack.post(form, session=session)
    replies = stack.twilio.wait_for(address, 2, timeout=60)
    if len(replies) < 2:
        raise RuntimeError(f"conversation {i}: {len(replies)} replies")
    first = replies[0]["received_at"] - start_mono
    last = replies[1]["received_at"] - start_mono
    return first, last


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    stack_arguments(parser)
    args = parser.parse_args()
    with running_stack(args) as stack:
        sessions = [requests.Session() for _ in range(args.concurrency)]
        for i in range(5):  # warm-up turns, not counted
            one_turn(stack, 90000 + i, sessions[0])
        rasa_cpu = cpu_seconds(stack, "rasa")
        started = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            results = list(
                pool.map(
                    lambda i: one_turn(stack, i, sessions[i % args.concurrency]),
                    range(args.conversations),
                )
            )
        elapsed = time.perf_counter() - started
        rasa_cpu = cpu_seconds(stack, "rasa") - rasa_cpu
        mode = "forking work-horse per job" if args.fork else "jobs in-process"
        print(
            f"{args.conversations} conversations, {args.concurrency} at a time, "
            f"{args.workers} RQ workers ({mode})"
        )
        print(summary("turn, first reply", [r[0] for r in results]))
        print(summary("turn, last reply ", [r[1] for r in results]))
        print(f"throughput: {args.conversations / elapsed:.1f} turns/s")
        print(
            f"Rasa CPU: {rasa_cpu * 1000 / args.conversations:.1f} ms per turn "
            f"({rasa_cpu:.2f} s over {args.conversations} turns in {elapsed:.1f} s)"
        )


if __name__ == "__main__":
    main()
