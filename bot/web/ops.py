"""Operating the web tier: liveness, readiness, Prometheus metrics and request timing.

- `/healthz` (liveness): the process answers; nothing else is checked, so a database outage
  never gets a healthy web process restarted.
- `/readyz` (readiness): the database and Redis answer (503 with the failing check otherwise),
  for a load balancer to send traffic only where it can be served.
- `/metrics`: Prometheus text (bot.metrics). With METRICS_TOKEN set it needs
  `Authorization: Bearer <token>`; without it, it answers only the machine itself (a scraper
  on localhost or a sidecar). 404 otherwise: nothing tells a stranger it exists.
"""

import hmac
import ipaddress
import time

from flask import Blueprint, Response, abort, current_app, g, jsonify, request

from bot import health, metrics

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok", "sandbox": current_app.config["SANDBOX"]})


@bp.get("/readyz")
def readyz():
    ready, checks = health.readiness()
    return jsonify({"status": "ok" if ready else "unavailable", "checks": checks}), (
        200 if ready else 503
    )


def _may_scrape():
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    try:
        return ipaddress.ip_address(request.remote_addr or "0.0.0.0").is_loopback
    except ValueError:
        return False


@bp.get("/metrics")
def scrape():
    if not _may_scrape():
        abort(404)
    body, content_type = metrics.exposition(current_app.extensions.get("metrics_collectors", ()))
    return Response(body, content_type=content_type)


def init_app(app, collectors=()):
    """Register the routes and time every request (bot_http_request_duration_seconds)."""
    app.extensions["metrics_collectors"] = tuple(collectors)
    app.register_blueprint(bp)

    @app.before_request
    def _start_timer():
        g.request_started = time.perf_counter()

    @app.teardown_request
    def _observe(_exc):
        started = g.pop("request_started", None)
        if started is None or request.endpoint in ("ops.scrape", "static"):
            return
        status = g.pop("response_status", 500)
        metrics.HTTP_LATENCY.labels(
            endpoint=request.endpoint or "unknown", status=f"{status // 100}xx"
        ).observe(time.perf_counter() - started)

    @app.after_request
    def _remember_status(response):
        g.response_status = response.status_code
        return response
