"""End-to-end turn latency: signed inbound webhook -> the Twilio send request, real stack.

For each of N conversations (distinct numbers) a "hola" is posted; the clock stops when the
local Twilio-compatible server receives the first reply and the last reply of that turn
(greeting + verification question: two messages, each a Rasa response rendered from the
template store and sent with the real twilio client). Also prints the CPU time the Rasa
process(es) and the action server spent per measured turn, and Rasa's resident memory before
and after the run (from /proc/<pid>/stat).

--direct posts the same "hola" straight to Rasa's REST channel instead (no web, worker or
Twilio): what Rasa and the action server alone sustain. --replicas N starts N Rasa
servers sharing their tracker and lock stores in redis; the worker (or --direct) takes them in
turn. --postgres runs the stack on a throwaway PostgreSQL cluster (bench.replicas compares 1
and N replicas through the whole stack).

    .venv/bin/python -m bench.turn_latency [--conversations 200] [--concurrency 4]
        [--workers 2] [--replicas 1] [--postgres] [--direct]
"""

import argparse
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from .common import (
    cpu_seconds,
    rss_mib,
    running_stack,
    stack_arguments,
    stack_memory_line,
    summary,
)


def one_turn(stack, i, session):
    phone = f"+5730013{i:05d}"
    address = f"whatsapp:{phone}"
    form = stack.inbound_form(phone, "hola")
    start_mono = time.monotonic()
    try:
        stack.post(form, session=session)
    except requests.ConnectionError:
        # gunicorn closes a keep-alive connection idle for 2 s, which a loaded machine's wait
        # for the replies can exceed; the same MessageSid again is stored once.
        stack.post(form, session=session)
    replies = stack.twilio.wait_for(address, 2, timeout=60)
    if len(replies) < 2:
        raise RuntimeError(f"conversation {i}: {len(replies)} replies")
    first = replies[0]["received_at"] - start_mono
    last = replies[1]["received_at"] - start_mono
    return first, last


def one_direct_turn(stack, i, session):
    """The turn on Rasa's REST channel of one replica (by turn); the answer holds both replies.

    The sender is no conversation of the bot's database: the actions find none and answer as for
    an unknown number (greeting, verification question), the same Rasa work as a first turn.
    """
    url = stack.rasa_url(i % len(stack.rasa_ports)) + "/webhooks/rest/webhook"
    start = time.monotonic()
    response = session.post(
        url,
        json={"sender": str(10_000_000 + i), "message": "hola", "metadata": {}},
        timeout=60,
    )
    elapsed = time.monotonic() - start
    if response.status_code != 200 or len(response.json()) < 2:
        raise RuntimeError(f"conversation {i}: HTTP {response.status_code} {response.text[:200]}")
    return elapsed, elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--direct", action="store_true", help="post to Rasa's REST channel")
    parser.add_argument(
        "--memory-at",
        default="",
        help="comma-separated conversation counts at which to print Rasa's and the whole "
        "stack's RSS and PSS (e.g. 1000,10000: flat memory as conversations grow)",
    )
    stack_arguments(parser)
    args = parser.parse_args()
    turn = one_direct_turn if args.direct else one_turn
    with running_stack(args) as stack:
        sessions = [requests.Session() for _ in range(args.concurrency)]
        for i in range(5):  # warm-up turns, not counted
            turn(stack, 90000 + i, sessions[0])
        rasa_cpu, rasa_rss = cpu_seconds(stack, "rasa"), rss_mib(stack, "rasa")
        actions_cpu = cpu_seconds(stack, "actions")
        checkpoints = sorted(int(n) for n in args.memory_at.split(",") if n.strip())
        done, lock = [0], threading.Lock()

        def counted(i):
            result = turn(stack, i, sessions[i % args.concurrency])
            with lock:
                done[0] += 1
                if done[0] in checkpoints:
                    print(stack_memory_line(stack, f"after {done[0]} conversations"), flush=True)
            return result

        print(stack_memory_line(stack, "before the run"), flush=True)
        started = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            results = list(pool.map(counted, range(args.conversations)))
        elapsed = time.perf_counter() - started
        rasa_cpu = cpu_seconds(stack, "rasa") - rasa_cpu
        actions_cpu = cpu_seconds(stack, "actions") - actions_cpu
        mode = "forking work-horse per job" if args.fork else "jobs in-process"
        path = (
            "Rasa's REST channel directly" if args.direct else f"{args.workers} RQ workers ({mode})"
        )
        print(
            f"{args.conversations} conversations, {args.concurrency} at a time, "
            f"{args.rasa_replicas} Rasa replica(s), {path}"
        )
        if args.direct:
            print(summary("turn, Rasa's answer", [r[0] for r in results]))
        else:
            print(summary("turn, first reply", [r[0] for r in results]))
            print(summary("turn, last reply ", [r[1] for r in results]))
        print(f"throughput: {args.conversations / elapsed:.1f} turns/s")
        print(
            f"Rasa CPU: {rasa_cpu * 1000 / args.conversations:.1f} ms per turn "
            f"({rasa_cpu:.2f} s over {args.conversations} turns in {elapsed:.1f} s)"
        )
        print(f"action server CPU: {actions_cpu * 1000 / args.conversations:.1f} ms per turn")
        print(f"Rasa RSS: {rasa_rss:.1f} MiB before the run, {rss_mib(stack, 'rasa'):.1f} after")


if __name__ == "__main__":
    main()
