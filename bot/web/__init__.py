"""The web tier: Twilio's webhooks, the pay page, the consoles and the sandbox."""

from flask import jsonify

from bot.web import pay, sandbox, webhooks
from bot.web.console import admin, agent, auth, contacts, dialogue_admin


def init_app(app):
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(pay.bp)
    app.register_blueprint(sandbox.api)
    app.register_blueprint(sandbox.simulator)
    auth.init_app(app)
    app.register_blueprint(agent.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(contacts.bp)
    app.register_blueprint(dialogue_admin.bp)

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok", "sandbox": app.config["SANDBOX"]})
