"""gunicorn.conf.py: the web's metrics summed over gunicorn's worker processes (Prometheus
multiprocess mode), through a real gunicorn with two workers."""

import json
import os
import subprocess
import sys
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

from bot.testing import wait_for
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def healthz_count(text):
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "bot_http_request_duration_seconds_count" and s.labels == {
                "endpoint": "ops.healthz",
                "status": "2xx",
            }:
                return s.value
    return 0


def test_metrics_are_summed_over_gunicorn_workers_and_logs_are_json(app, tmp_path):
    port = free_port()
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_1.db").write_bytes(b"stale")  # an earlier run's: removed at start
    env = {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": app.config["DATABASE_URL"],
        "REDIS_URL": app.config["REDIS_URL"],
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "LOG_FORMAT": "json",
    }
    log = (tmp_path / "web.log").open("wb")
    web = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "2",
            "bot:create_app()",
        ],
        cwd=ROOT,  # gunicorn reads ./gunicorn.conf.py from here
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def up():
            try:
                return requests.get(url + "/readyz", timeout=2).ok
            except requests.RequestException:
                return False

        wait_for(up, 60, what="gunicorn answering")
        for _ in range(30):  # a new connection each: the two workers share them
            assert requests.get(url + "/healthz", headers={"Connection": "close"}).ok
        # Whichever worker answers the scrape, it reports what both served.
        for _ in range(4):
            scraped = requests.get(url + "/metrics", headers={"Connection": "close"})
            assert scraped.status_code == 200
            assert healthz_count(scraped.text) == 30
        files = {p.name for p in metrics_dir.iterdir()}
        assert "counter_1.db" not in files and any(n.startswith("histogram_") for n in files)
    finally:
        web.terminate()
        web.wait(timeout=30)
        log.close()
    # gunicorn's own lines (booting, workers, shutting down) are JSON like the app's.
    lines = [x for x in (tmp_path / "web.log").read_text().splitlines() if x.strip()]
    entries = [json.loads(x) for x in lines]
    assert any(
        e["logger"] == "gunicorn.error" and "Booting worker" in e["message"] for e in entries
    )
