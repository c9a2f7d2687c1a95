"""The RQ worker: the app preloaded once, the sweep run in the worker's maintenance loop, and
a worker that outlives Redis: a lost connection is waited out with backoff, never an exit."""

import logging
import time

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import SimpleWorker, Worker, worker_registration
from rq.exceptions import StopRequested

from bot.redis import redis_conn
from bot.tasks import jobs, periodic, queues

log = logging.getLogger(__name__)
REDIS_LOST = (RedisConnectionError, RedisTimeoutError)
# Seconds between reconnection attempts; the last one repeats.
BACKOFF = (0.5, 1, 2, 4, 5)


class ReconnectingMixin:
    """Wait for Redis instead of exiting when it goes away (RQ's own loop quits on any error
    outside its dequeue). A job running when Redis went is dropped from RQ's bookkeeping only:
    its message is in the database, and the sweep finds it again."""

    def _await_redis(self, exc):
        log.warning("Redis lost (%s); reconnecting with backoff", type(exc).__name__)
        attempt = 0
        while True:
            if self._stop_requested:
                raise StopRequested()
            time.sleep(BACKOFF[min(attempt, len(BACKOFF) - 1)])
            attempt += 1
            try:
                self.connection.ping()
                break
            except REDIS_LOST:
                continue
        self._register_again()
        log.warning("Redis is back after %d attempt(s)", attempt)

    def _register_again(self):
        # A Redis restarted empty has forgotten this worker; RQ's monitoring should see it.
        if self.connection.exists(self.key):
            return
        with self.connection.pipeline() as pipe:
            pipe.hset(self.key, mapping=self.serialize())
            worker_registration.register(self, pipe)
            pipe.expire(self.key, self.worker_ttl + 60)
            pipe.execute()

    def check_for_suspension(self, burst):
        try:
            return super().check_for_suspension(burst)
        except REDIS_LOST as exc:
            self._await_redis(exc)

    def run_maintenance_tasks(self):
        try:
            return super().run_maintenance_tasks()
        except REDIS_LOST as exc:
            self._await_redis(exc)

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        while True:
            try:
                return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
            except REDIS_LOST as exc:
                self._await_redis(exc)

    def execute_job(self, job, queue):
        try:
            return super().execute_job(job, queue)
        except REDIS_LOST as exc:
            log.error("job %s cut short by the Redis outage; the sweep finds its work", job.id)
            self._await_redis(exc)

    def heartbeat(self, *args, **kwargs):
        try:
            return super().heartbeat(*args, **kwargs)
        except REDIS_LOST as exc:
            self._await_redis(exc)

    def teardown(self):
        try:
            return super().teardown()
        except REDIS_LOST:
            log.warning("Redis unreachable while stopping: the worker's record expires on its own")


class SweepingMixin:
    """Run the unprocessed-message sweep every sweep_interval seconds from the idle loop.

    RQ wakes an idle worker every dequeue_timeout (worker_ttl - 15) seconds and runs
    maintenance every maintenance_interval; both are set to the sweep interval. A Redis lock
    lets one worker of many sweep per interval. Unlike a job scheduled with enqueue_in, this
    does not stall for minutes when a crashed worker still holds RQ's scheduler lock.
    """

    sweep_interval = 30
    reminder_tick = True
    sweeps = True

    def run_maintenance_tasks(self):
        super().run_maintenance_tasks()
        if not self.sweeps:
            return
        lock_key = "lock:sweep"
        if self.connection.set(lock_key, self.name, nx=True, ex=max(self.sweep_interval - 1, 1)):
            try:
                with jobs.job_app().app_context():
                    periodic.sweep()
            except Exception:  # the worker must keep serving jobs whatever the sweep meets
                log.exception("sweep failed")
        if self.reminder_tick:
            self._reminders_tick()
        for name, tick in (
            ("auto-debit", periodic.autodebit_tick),
            ("accrual", periodic.accrual_tick),
        ):
            try:
                with jobs.job_app().app_context():
                    tick()
            except Exception:
                log.exception("%s tick failed", name)

    def _reminders_tick(self):
        # One worker at a time plans and dispatches reminders; a long dispatch keeps its lock.
        lock = self.connection.lock("lock:reminders", timeout=600)
        if lock.acquire(blocking=False):
            try:
                with jobs.job_app().app_context():
                    periodic.reminders_tick(lock=lock)
            except Exception:
                log.exception("reminders tick failed")
            finally:
                try:
                    lock.release()
                except Exception:  # expired during a very long dispatch: nothing to undo
                    log.warning("reminders lock expired during the tick")


class BotWorker(ReconnectingMixin, SweepingMixin, SimpleWorker):
    """Runs jobs in the worker process, keeping its connection pools (Rasa, Twilio, database)
    warm. Measured on the turn benchmark: forking a work-horse per job added about 50 ms to
    every turn (bench/turn_latency.py --fork). A worker that dies mid-job loses nothing: the
    sweep re-enqueues its message and an interrupted send is reconciled with Twilio."""


class BotForkingWorker(ReconnectingMixin, SweepingMixin, Worker):
    """RQ's default: a forked work-horse per job, for jobs that may crash the interpreter."""


def build(app, fork=False, names=None):
    """A worker on the named queues (all by default), served in queues.ALL's order."""
    interval = app.config["SWEEP_INTERVAL"]
    cls = BotForkingWorker if fork else BotWorker
    names = [name for name in queues.ALL if name in (names or queues.ALL)]
    worker = cls(
        [queues.queue(name) for name in names],
        connection=redis_conn(),
        worker_ttl=interval + 15,
        maintenance_interval=interval,
    )
    worker.sweep_interval = interval
    # A worker dedicated to outbound messages stays free for them: no sweep, no reminders.
    worker.sweeps = queues.INBOUND in names
    worker.reminder_tick = app.config["REMINDER_TICK"] and worker.sweeps
    return worker
