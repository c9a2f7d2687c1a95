"""Helpers shared by the benchmarks: percentiles and the stack they run against."""

import os
import statistics
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

from bot.testing.stack import Stack, _children

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


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
        "--nice",
        type=int,
        default=10,
        help="run Rasa, actions and workers at this nice level (0: the web tier's priority)",
    )
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument(
        "--replicas", "--rasa-replicas", dest="rasa_replicas", type=int, default=1,
        help="Rasa servers sharing their trackers in redis; the workers take them in turn",
    )  # fmt: skip
    parser.add_argument(
        "--postgres", action="store_true",
        help="a throwaway PostgreSQL cluster instead of an SQLite file (production's database)",
    )  # fmt: skip
    parser.add_argument("--web-threads", type=int, default=4, help="threads per web worker")


@contextmanager
def database(args):
    """The stack's DATABASE_URL: a fresh database on a throwaway PostgreSQL cluster with
    --postgres (its server stopped and deleted afterwards), else None (an SQLite file)."""
    if not getattr(args, "postgres", False):
        yield None
        return
    from bot.testing.postgres import Postgres

    server = Postgres().start()
    try:
        yield server.create_database()
    finally:
        server.stop()


def postgres_pids(database_url):
    """The PostgreSQL server's processes (postmaster and backends) of a --postgres stack, by
    the port of its URL: the postmaster's pid file lies in the throwaway cluster's folder."""
    if not database_url or not database_url.startswith("postgresql"):
        return []
    port = database_url.rsplit(":", 1)[1].split("/")[0]
    for pid_file in Path(tempfile.gettempdir()).glob("bot-postgres-*/data/postmaster.pid"):
        try:
            lines = pid_file.read_text().splitlines()
        except OSError:
            continue
        if len(lines) > 3 and lines[3].strip() == port:
            pid = int(lines[0])
            return [pid, *_children(pid)]
    return []


@contextmanager
def running_stack(args):
    """Start the real stack in a scratch folder; print peak memory and stop it afterwards."""
    with tempfile.TemporaryDirectory() as tmp, database(args) as database_url:
        stack = Stack(
            tmp,
            workers=args.workers,
            worker_args=["--fork"] if args.fork else [],
            nice=getattr(args, "nice", 10),
            web_workers=getattr(args, "web_workers", 2),
            web_threads=getattr(args, "web_threads", 4),
            rasa_replicas=getattr(args, "rasa_replicas", 1),
            database_url=database_url,
        )
        sampler = None
        try:
            stack.start()
            sampler = MemorySampler(stack).start()
            yield stack
            print_memory(stack, sampler)
        finally:
            if sampler:
                sampler.stop()
            stack.stop()


class MemorySampler:
    """Samples every process's PSS (and the stack's sum) each interval in a thread: the peak
    of the sum is the memory the whole stack needed at once, which the per-process VmHWM
    peaks overstate (they peak at different instants and count pages gunicorn's forked workers
    share once per worker)."""

    def __init__(self, stack, interval=1.0):
        self.stack, self.interval = stack, interval
        self.peak_pss, self.peak_total = {}, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.sample()
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=5)

    def sample(self):
        now = self.stack.memory()
        for name, mib in now.items():
            self.peak_pss[name] = max(self.peak_pss.get(name, 0.0), mib["pss"])
        self.peak_total = max(self.peak_total, sum(m["pss"] for m in now.values()))
        return now

    def _run(self):
        while not self._stop.wait(self.interval):
            try:
                self.sample()
            except Exception:  # a process exiting between two reads: next sample
                continue


def print_memory(stack, sampler=None):
    peaks = stack.peak_memory()
    now = sampler.sample() if sampler else stack.memory()
    print("memory, MiB (process + children): peak RSS (VmHWM), RSS and PSS now, peak PSS")
    for name, mib in sorted(peaks.items()):
        m = now.get(name, {"rss": 0.0, "pss": 0.0})
        peak = sampler.peak_pss.get(name, 0.0) if sampler else m["pss"]
        print(f"  {name:10s} {mib:8.1f} {m['rss']:8.1f} {m['pss']:8.1f} {peak:8.1f}")
    total_now = sum(m["pss"] for m in now.values())
    print(
        f"  {'total':10s} {sum(peaks.values()):8.1f} {sum(m['rss'] for m in now.values()):8.1f} "
        f"{total_now:8.1f} {sampler.peak_total if sampler else total_now:8.1f}"
    )
    print("  (the whole stack's PSS, sampled each second: peak of the sum in the last column)")


def stack_memory_line(stack, label):
    """One line: Rasa's and the whole stack's RSS and PSS now."""
    now = stack.memory()
    rasa = [m for name, m in now.items() if name.startswith("rasa")]
    every = list(now.values())

    def total(ms, key):
        return sum(m[key] for m in ms)

    return (
        f"{label}: Rasa RSS {total(rasa, 'rss'):.1f} MiB, PSS {total(rasa, 'pss'):.1f}; "
        f"whole stack RSS {total(every, 'rss'):.1f} MiB, PSS {total(every, 'pss'):.1f}"
    )


def _stat_fields(pid):
    """Fields 3 on of /proc/<pid>/stat (the process name may hold spaces), or None."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _pids(stack, prefix):
    for name, proc in stack.procs.items():
        if name.startswith(prefix):
            yield from [proc.pid, *_children(proc.pid)]


def process_cpu_seconds(pids):
    """CPU time (user + system, s) used so far by these processes (utime and stime)."""
    fields = [_stat_fields(pid) for pid in pids]
    return sum(int(f[11]) + int(f[12]) for f in fields if f) / CLOCK_TICKS


def rss_mib(stack, prefix):
    """Resident memory now (MiB) of the stack's processes named prefix* and their children."""
    fields = [_stat_fields(pid) for pid in _pids(stack, prefix)]
    return sum(int(f[21]) for f in fields if f) * os.sysconf("SC_PAGE_SIZE") / 2**20


def cpu_seconds(stack, prefix):
    """CPU time (user + system, s) used so far by the stack's processes named prefix* and
    their live children, read from /proc/<pid>/stat (utime and stime, fields 14 and 15)."""
    fields = [_stat_fields(pid) for pid in _pids(stack, prefix)]
    return sum(int(f[11]) + int(f[12]) for f in fields if f) / CLOCK_TICKS


def verified_conversation(phone, debtor_id, stamp):
    """A conversation row for a debtor verified on their number (bench data in bulk): their
    reminders carry the full text, not the discreet first contact."""
    return {
        "channel": "sms",
        "address": phone,
        "debtor_id": debtor_id,
        "state": "bot",
        "verified_at": stamp,
        "verification_failures": 0,
        "needs_agent": False,
        "bot_paused": False,
        "created_at": stamp,
        "updated_at": stamp,
    }
