"""A worker's own small HTTP port: /healthz (liveness), /readyz (database and Redis) and
/metrics (Prometheus), served from a thread beside the RQ loop.

`flask --app bot worker --metrics-port 9100` (or WORKER_METRICS_PORT) starts it on
METRICS_INTERFACE (127.0.0.1 by default; 0.0.0.0 inside a container network). /metrics needs
`Authorization: Bearer $METRICS_TOKEN` when the token is set, else answers loopback clients
only, like the web's. A port already taken (two workers started with the same one) is
logged and the worker runs on without it: metrics never stop work.

Liveness means the worker's loop is turning: RQ's heartbeat (every few seconds while idle)
or a job started within its own timeout. A worker stuck past that answers 503, so a
supervisor (Docker's healthcheck, Kubernetes' livenessProbe) restarts it.
"""

import hmac
import ipaddress
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bot import health, metrics

log = logging.getLogger(__name__)
# Seconds of silence beyond the expected beat before the worker counts as stuck.
GRACE = 60


class Liveness:
    """When the worker must next show a sign of life (monotonic seconds)."""

    def __init__(self):
        self.deadline = time.monotonic() + GRACE

    def beat(self, within):
        self.deadline = time.monotonic() + within + GRACE

    def alive(self):
        return time.monotonic() <= self.deadline


def _handler(app, liveness):
    token = app.config.get("METRICS_TOKEN")

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status, body, content_type="application/json"):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _may_scrape(self):
            if token:
                given = self.headers.get("Authorization", "")
                return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
            return ipaddress.ip_address(self.client_address[0]).is_loopback

        def do_GET(self):  # noqa: N802 (http.server's name)
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                ok = liveness.alive()
                body = {"status": "ok" if ok else "stuck"}
                self._send(200 if ok else 503, json.dumps(body).encode())
            elif path == "/readyz":
                with app.app_context():
                    ready, checks = health.readiness()
                body = {"status": "ok" if ready else "unavailable", "checks": checks}
                self._send(200 if ready else 503, json.dumps(body).encode())
            elif path == "/metrics" and self._may_scrape():
                body, content_type = metrics.exposition()
                self._send(200, body, content_type)
            else:
                self._send(404, b'{"status": "not found"}')

        def log_message(self, *_args):  # scrapes every few seconds: not worth a log line
            pass

    return Handler


def serve(app, liveness, port, host=None):
    """Start the port in a daemon thread; the server, or None when the port is taken."""
    host = host or app.config.get("METRICS_INTERFACE") or "127.0.0.1"
    try:
        server = ThreadingHTTPServer((host, port), _handler(app, liveness))
    except OSError as exc:
        log.warning(
            "worker health port %s:%s unavailable (%s): running without it", host, port, exc
        )
        return None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    log.info("worker health and metrics on http://%s:%s", host, server.server_address[1])
    return server
