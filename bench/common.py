"""Helpers shared by the benchmarks: percentiles and the stack they run against."""

import statistics
import tempfile
from contextlib import contextmanager

from bot.testing.stack import Stack


def percentile(values, pct):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * pct / 100
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def summary(name, seconds):
    ms = [s * 1000 for s in seconds]
    return (
        f"{name}: n={len(ms)} p50={percentile(ms, 50):.1f} ms p95={percentile(ms, 95):.1f} ms "
        f"p99={percentile(ms, 99):.1f} ms max={max(ms):.1f} ms mean={statistics.mean(ms):.1f} ms"
    )


def stack_arguments(parser):
    parser.add_argument("--workers", type=int, default=2, help="RQ workers")
    parser.add_argument("--fork", action="store_true", help="fork a work-horse per job")
    parser.add_argument(
        "--nice", type=int, default=0, help="run Rasa, actions and workers at this nice level"
    )
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn worker processes")


@contextmanager
def running_stack(args):
    """Start the real stack in a scratch folder; print peak memory and stop it afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(
            tmp,
            workers=args.workers,
            worker_args=["--fork"] if args.fork else [],
            nice=getattr(args, "nice", 0),
            web_workers=getattr(args, "web_workers", 2),
        )
        try:
            yield stack.start()
            print_memory(stack)
        finally:
            stack.stop()


def print_memory(stack):
    peaks = stack.peak_memory()
    print("peak memory (VmHWM, MiB, process + children):")
    for name, mib in sorted(peaks.items()):
        print(f"  {name:10s} {mib:8.1f}")
