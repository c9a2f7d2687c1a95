"""Rasa replicas through the whole stack: the same load on 1 and on N replicas, alternating.

One stack (PostgreSQL with --postgres, --workers RQ workers, --replicas Rasa servers sharing
their trackers and locks in redis) serves every round; a 1-replica round restarts the workers
with RASA_URL naming the first replica only (the others stay up and idle, so memory and model
are the same), an N-replica round with all of them. Each round posts --conversations first
turns ("hola" from a number of its own), --concurrency at a time, as signed Twilio webhooks:
web -> queue -> worker -> Rasa -> action server -> the fake Twilio's send API. A turn's
latency runs from the post to the second reply reaching the fake Twilio. After the round
settles, every number's replies are counted there: fewer than 2 is lost, more is duplicated.
Per round it prints p50/p95 turn latency, turns/s, errors, lost and duplicated replies, the
CPU seconds each process spent (from /proc/<pid>/stat) and the load average; at the end the
ratio of the N-replica p50/p95 to the 1-replica one (the target: at most 0.6).

    .venv/bin/python -m bench.replicas --postgres --replicas 2 --workers 4 \\
        [--conversations 120] [--concurrency 8] [--rounds 2]
"""

import argparse
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from rq import Worker

from bot.testing.stack import _children

from .common import percentile, postgres_pids, process_cpu_seconds, running_stack, stack_arguments


def one_turn(stack, phone, session):
    address = f"whatsapp:{phone}"
    form = stack.inbound_form(phone, "hola")
    start = time.monotonic()
    try:
        stack.post(form, session=session)
    except requests.ConnectionError:
        stack.post(form, session=session)  # a keep-alive closed by gunicorn; same MessageSid
    replies = stack.twilio.wait_for(address, 2, timeout=60)
    if len(replies) < 2:
        raise RuntimeError(f"{phone}: {len(replies)} replies after 60 s")
    return replies[1]["received_at"] - start


def route(stack, replicas):
    """Restart the workers with RASA_URL naming the first `replicas` Rasa servers."""
    stack.env["RASA_URL"] = ",".join(stack.rasa_url(i) for i in range(replicas))
    for i in range(stack.n_workers):
        stack.stop_process(f"worker{i}")
    for i in range(stack.n_workers):
        stack.start_worker(i)
    deadline = time.monotonic() + 60
    while len(Worker.all(connection=stack.redis)) < stack.n_workers:
        if time.monotonic() > deadline:
            raise RuntimeError("the workers did not register in 60 s")
        time.sleep(0.2)


def process_groups(stack):
    """Name -> pids of each stack process (with its children) and of PostgreSQL."""
    groups = {name: [proc.pid, *_children(proc.pid)] for name, proc in stack.procs.items()}
    groups["postgres"] = postgres_pids(stack.env["DATABASE_URL"])
    return groups


def cpu_by_group(stack):
    cpu = {name: process_cpu_seconds(pids) for name, pids in process_groups(stack).items()}
    workers = sum(v for k, v in cpu.items() if k.startswith("worker"))
    cpu = {k: v for k, v in cpu.items() if not k.startswith("worker")}
    cpu["workers"] = workers
    cpu["bench"] = process_cpu_seconds([os.getpid()])  # the load generator and the fake Twilio
    return cpu


def run_round(stack, args, number, replicas):
    route(stack, replicas)
    sessions = [requests.Session() for _ in range(args.concurrency)]
    phones = [f"+57301{number:02d}{i:05d}" for i in range(args.conversations + args.concurrency)]
    warmup, measured = phones[: args.concurrency], phones[args.concurrency :]
    with ThreadPoolExecutor(args.concurrency) as pool:  # every worker and replica once
        list(pool.map(lambda p: one_turn(stack, p, sessions[0]), warmup))
    load = os.getloadavg()
    before = cpu_by_group(stack)
    latencies, errors = [], []
    started = time.perf_counter()

    def turn(k):
        try:
            latencies.append(one_turn(stack, measured[k], sessions[k % args.concurrency]))
        except Exception as exc:  # reported, the round goes on
            errors.append(f"{type(exc).__name__}: {exc}")

    with ThreadPoolExecutor(args.concurrency) as pool:
        list(pool.map(turn, range(len(measured))))
    elapsed = time.perf_counter() - started
    after = cpu_by_group(stack)
    stack.settled(timeout=120)
    time.sleep(args.quiet)  # a late duplicate would arrive now
    counts = [len(stack.twilio.to(f"whatsapp:{p}")) for p in measured]
    ms = [s * 1000 for s in latencies]
    cpu = {k: after[k] - before.get(k, 0.0) for k in after}
    result = {
        "replicas": replicas,
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "mean": statistics.mean(ms) if ms else float("nan"),
        "rate": len(latencies) / elapsed,
        "errors": len(errors),
        "lost": sum(max(0, 2 - c) for c in counts),
        "duplicated": sum(max(0, c - 2) for c in counts),
        "load": load,
        "cpu": cpu,
        "elapsed": elapsed,
    }
    print(
        f"round {number}: {replicas} replica(s), load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}: "
        f"turn p50 {result['p50']:.0f} ms, p95 {result['p95']:.0f} ms, "
        f"mean {result['mean']:.0f} ms; "
        f"{result['rate']:.2f} turns/s; errors {result['errors']}, lost replies {result['lost']}, "
        f"duplicated {result['duplicated']}"
    )
    shares = ", ".join(
        f"{k} {v:.1f} s ({v * 1000 / max(1, len(latencies)):.0f} ms/turn)"
        for k, v in sorted(cpu.items(), key=lambda kv: -kv[1])
        if v >= 0.05
    )
    print(f"  CPU over {elapsed:.1f} s (2 cores = {2 * elapsed:.1f} s): {shares}")
    for error in errors[:3]:
        print("  error:", error)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=120, help="measured turns a round")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each replica count")
    parser.add_argument("--quiet", type=float, default=2.0, help="seconds to await duplicates")
    stack_arguments(parser)
    parser.set_defaults(workers=4, rasa_replicas=2)
    args = parser.parse_args()
    if args.rasa_replicas < 2:
        parser.error("--replicas must be 2 or more (1 replica is each round's baseline)")
    with running_stack(args) as stack:
        database = "PostgreSQL" if args.postgres else "SQLite"
        print(
            f"{args.conversations} first turns a round, {args.concurrency} at a time, "
            f"{args.workers} RQ workers, {database}, nice {args.nice}, "
            f"1 vs {args.rasa_replicas} Rasa replicas alternating, {args.rounds} rounds each"
        )
        results = []
        for _ in range(args.rounds):
            for replicas in (1, args.rasa_replicas):
                results.append(run_round(stack, args, len(results), replicas))
        one = [r for r in results if r["replicas"] == 1]
        many = [r for r in results if r["replicas"] > 1]
        for key in ("p50", "p95"):
            a = statistics.mean(r[key] for r in one)
            b = statistics.mean(r[key] for r in many)
            print(
                f"{key}: 1 replica {a:.0f} ms, {args.rasa_replicas} replicas {b:.0f} ms, "
                f"ratio {b / a:.2f}"
            )
        rate_one = statistics.mean(r["rate"] for r in one)
        rate_many = statistics.mean(r["rate"] for r in many)
        print(
            f"turns/s: 1 replica {rate_one:.2f}, {args.rasa_replicas} replicas {rate_many:.2f}; "
            f"errors {sum(r['errors'] for r in results)}, lost {sum(r['lost'] for r in results)}, "
            f"duplicated {sum(r['duplicated'] for r in results)}"
        )


if __name__ == "__main__":
    main()
