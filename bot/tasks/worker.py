"""The RQ worker: the app preloaded once, and the sweep run in the worker's maintenance loop."""

import logging

from rq import SimpleWorker, Worker

from bot.redis import redis_conn
from bot.tasks import jobs, periodic, queues

log = logging.getLogger(__name__)


class SweepingMixin:
    """Run the unprocessed-message sweep every sweep_interval seconds from the idle loop.

    RQ wakes an idle worker every dequeue_timeout (worker_ttl - 15) seconds and runs
    maintenance every maintenance_interval; both are set to the sweep interval. A Redis lock
    lets one worker of many sweep per interval. Unlike a job scheduled with enqueue_in, this
    does not stall for minutes when a crashed worker still holds RQ's scheduler lock.
    """

    sweep_interval = 30
    reminder_tick = True

    def run_maintenance_tasks(self):
        super().run_maintenance_tasks()
        lock_key = "lock:sweep"
        if self.connection.set(lock_key, self.name, nx=True, ex=max(self.sweep_interval - 1, 1)):
            try:
                with jobs.job_app().app_context():
                    periodic.sweep()
            except Exception:  # the worker must keep serving jobs whatever the sweep meets
                log.exception("sweep failed")
        if self.reminder_tick:
            self._reminders_tick()
        try:
            with jobs.job_app().app_context():
                periodic.autodebit_tick()
        except Exception:
            log.exception("auto-debit tick failed")

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


class BotWorker(SweepingMixin, SimpleWorker):
    """Runs jobs in the worker process, keeping its connection pools (Rasa, Twilio, database)
    warm. Measured on the turn benchmark: forking a work-horse per job added about 50 ms to
    every turn (bench/turn_latency.py --fork). A worker that dies mid-job loses nothing: the
    sweep re-enqueues its message and an interrupted send is reconciled with Twilio."""


class BotForkingWorker(SweepingMixin, Worker):
    """RQ's default: a forked work-horse per job, for jobs that may crash the interpreter."""


def build(app, fork=False):
    interval = app.config["SWEEP_INTERVAL"]
    cls = BotForkingWorker if fork else BotWorker
    worker = cls(
        [queues.queue(name) for name in queues.ALL],
        connection=redis_conn(),
        worker_ttl=interval + 15,
        maintenance_interval=interval,
    )
    worker.sweep_interval = interval
    worker.reminder_tick = app.config["REMINDER_TICK"]
    return worker
