"""The web tier: Twilio's webhooks, the pay page, the consoles and the sandbox."""

import logging

from flask import Response, request
from redis.exceptions import RedisError
from sqlalchemy.exc import OperationalError

# pay_providers and pay_extras add their routes to the pay blueprint: imported before it is
# registered.
from bot.web import (  # noqa: F401
    documents,
    email,
    ops,
    pay,
    pay_extras,
    pay_providers,
    sandbox,
    webhooks,
)
from bot.web.console import (
    admin,
    agent,
    auth,
    compliance,
    contacts,
    dialogue_admin,
    email_admin,
    experiments,
    i18n,
    rails_admin,
    receipts,
    results,
)

log = logging.getLogger(__name__)

# Every response, from one place. Pages may set their own policy first (setdefault keeps it).
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Pay links carry their token in the path: never hand it to another site.
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
# Seconds a client is asked to wait when a dependency is down for a moment.
RETRY_AFTER = 5


def init_app(app, collectors=()):
    """collectors: extra Prometheus collectors for /metrics (the queues', from the factory)."""
    ops.init_app(app, collectors)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(pay.bp)
    app.register_blueprint(documents.bp)
    app.register_blueprint(email.bp)
    app.register_blueprint(sandbox.api)
    app.register_blueprint(sandbox.simulator)
    auth.init_app(app)
    i18n.init_app(app)
    app.register_blueprint(agent.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(email_admin.bp)
    app.register_blueprint(results.bp)
    app.register_blueprint(experiments.bp)
    app.register_blueprint(receipts.bp)
    app.register_blueprint(rails_admin.bp)
    app.register_blueprint(contacts.bp)
    app.register_blueprint(dialogue_admin.bp)
    app.register_blueprint(compliance.bp)

    https = app.config["PUBLIC_BASE_URL"].startswith("https:")

    @app.after_request
    def security_headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if https:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if not request.path.startswith("/static/"):
            # Balances, payment history, conversations: never kept by a browser or a proxy.
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(RedisError)
    @app.errorhandler(OperationalError)
    def dependency_down(exc):
        # Redis restarting, the database busy: the client may simply try again shortly
        # (Twilio retries a webhook); nothing was half-written (the session rolls back).
        log.error("%s %s: %s", request.method, request.path, type(exc).__name__)
        return Response(
            "Temporarily unavailable; try again shortly.\n",
            status=503,
            mimetype="text/plain",
            headers={"Retry-After": str(RETRY_AFTER)},
        )
