"""gunicorn's settings for the web process (gunicorn reads ./gunicorn.conf.py by itself).

Prometheus multiprocess mode: every gunicorn worker writes its metrics to files in one
PROMETHEUS_MULTIPROC_DIR and /metrics sums them, whichever worker answers the scrape. The
directory is emptied when gunicorn starts (counts of an earlier run would be added in), and
a worker that exits is marked dead (its gauges leave the sum; counters and histograms keep
what it counted). Set PROMETHEUS_MULTIPROC_DIR to choose the place (a tmpfs in a container);
otherwise a fresh temporary directory is made and removed on exit.
"""

import os
import shutil
import tempfile

_created = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _created:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="bot-web-metrics-")
_metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"]

# Longer than a load balancer's idle timeout (60 s on most): otherwise gunicorn may close a
# connection the balancer is about to reuse, and that request fails with a 502.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "75"))

# Build the app once in the master, then fork the workers: the imported code and data
# (Flask, SQLAlchemy, the consoles, Babel, the contact packs) are shared copy-on-write pages
# instead of one private copy per worker. GUNICORN_PRELOAD=0 turns it off.
preload_app = os.environ.get("GUNICORN_PRELOAD", "1") != "0"

# LOG_FORMAT=json: gunicorn's own lines (start, worker boot and exit, errors) as JSON too, in the
# bot's format (bot/logs.py), so a log collector reads one format from the web container.
if os.environ.get("LOG_FORMAT") == "json":
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "bot.logs.JsonFormatter"}},
        "handlers": {
            "json": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        # The app's own records too (bot.logs.configure leaves a root handler in place).
        "root": {"level": os.environ.get("LOG_LEVEL", "INFO"), "handlers": ["json"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["json"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["json"], "propagate": False},
        },
    }


def on_starting(server):
    os.makedirs(_metrics_dir, exist_ok=True)
    for name in os.listdir(_metrics_dir):
        if name.endswith(".db"):
            os.remove(os.path.join(_metrics_dir, name))


def post_fork(server, worker):
    # With preload_app the master built the app: a worker must not share its database
    # connections (none are open at start, but a pool must never cross a fork).
    app = getattr(server.app, "callable", None)
    db = getattr(app, "extensions", {}).get("db") if app is not None else None
    if db is not None:
        db.engine.dispose(close=False)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, _metrics_dir)


def on_exit(server):
    if _created:
        shutil.rmtree(_metrics_dir, ignore_errors=True)
