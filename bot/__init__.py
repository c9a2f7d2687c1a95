"""WhatsApp collections bot: the Flask app factory."""

import logging

from flask import Flask, jsonify

from bot.config import load_config
from bot.db import Database


def create_app(config=None):
    """Build the app from the environment; config (a dict) overrides it, for tests."""
    app = Flask(
        __name__,
        instance_relative_config=False,
        template_folder="web/templates",
        static_folder="web/static",
    )
    settings = load_config(config)
    app.config.update(settings)
    app.config["MAX_CONTENT_LENGTH"] = 256 * 1024
    logging.basicConfig(
        level=settings["LOG_LEVEL"], format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The twilio client logs request parameters (full phone numbers) at INFO.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    Database(settings["DATABASE_URL"]).init_app(app)

    from bot import cli
    from bot.web import pay, sandbox, webhooks
    from bot.web.console import admin, agent, auth

    app.register_blueprint(webhooks.bp)
    app.register_blueprint(pay.bp)
    app.register_blueprint(sandbox.api)
    app.register_blueprint(sandbox.simulator)
    auth.init_app(app)
    app.register_blueprint(agent.bp)
    app.register_blueprint(admin.bp)
    cli.init_app(app)

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok", "sandbox": app.config["SANDBOX"]})

    return app
