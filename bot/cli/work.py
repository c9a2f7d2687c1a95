"""The worker and the sweep."""

import click
from flask import current_app
from flask.cli import with_appcontext

from bot.tasks import periodic


@click.command("worker")
@with_appcontext
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option(
    "--fork",
    is_flag=True,
    help="Fork a work-horse per job (RQ's default). Isolates crashes, costs ~50 ms a job.",
)
@click.option(
    "--queues",
    "names",
    default="",
    help="Comma-separated queues to serve (default all, outbound first): "
    "`--queues outbound` is a worker kept free for agents' replies and thank-yous.",
)
@click.option(
    "--metrics-port",
    type=int,
    envvar="WORKER_METRICS_PORT",
    default=None,
    help="Serve /healthz, /readyz and /metrics on this port (METRICS_INTERFACE, default "
    "127.0.0.1); default: no port.",
)
def worker(burst, fork, names, metrics_port):
    """Run an RQ worker (with RQ's scheduler and the sweep) on all queues, app preloaded.

    Start it on the app without the web tier, `flask --app "bot:create_app(web=False)" worker`
    (the Procfile's way): the consoles, the pay page and their imports stay out of its memory.
    """
    from bot.tasks import health, jobs, queues
    from bot.tasks.worker import build

    chosen = [n.strip() for n in names.split(",") if n.strip()] or list(queues.ALL)
    unknown = sorted(set(chosen) - set(queues.ALL))
    if unknown:
        raise click.BadParameter(
            f"unknown queue(s) {', '.join(unknown)}; choose from {', '.join(queues.ALL)}",
            param_hint="--queues",
        )

    app = current_app._get_current_object()
    _wait_for_redis(app.config["REDIS_URL"])
    # Jobs reuse this app: imports and connection pools are set up once, not once per job.
    jobs.set_job_app(app)
    w = build(app, fork=fork, names=chosen)
    if metrics_port is not None:
        w.liveness = health.Liveness()
        health.serve(app, w.liveness, metrics_port)
    w.work(burst=burst, with_scheduler=True, logging_level=app.config["LOG_LEVEL"])


def _wait_for_redis(url, timeout=30):
    """Give a Redis that starts alongside the worker (make run) a moment to come up."""
    import time

    from redis import Redis
    from redis.exceptions import RedisError

    deadline = time.monotonic() + timeout
    while True:
        try:
            Redis.from_url(url, socket_connect_timeout=1).ping()
            return
        except RedisError as exc:
            if time.monotonic() > deadline:
                raise click.ClickException(f"Redis at REDIS_URL is not reachable: {exc}") from None
            time.sleep(0.5)


@click.command("sweep")
@with_appcontext
def sweep_command():
    """Re-enqueue inbound messages left unprocessed (also runs inside every worker)."""
    click.echo(f"{periodic.sweep()} message(s) re-enqueued")
