"""The web tier: Twilio's webhooks, the pay page, the consoles and the sandbox."""

from flask import jsonify

# pay_providers and pay_extras add their routes to the pay blueprint: imported before it is
# registered.
from bot.web import documents, pay, pay_extras, pay_providers, sandbox, webhooks  # noqa: F401
from bot.web.console import admin, agent, auth, contacts, dialogue_admin, rails_admin, receipts


def init_app(app):
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(pay.bp)
    app.register_blueprint(documents.bp)
    app.register_blueprint(sandbox.api)
    app.register_blueprint(sandbox.simulator)
    auth.init_app(app)
    app.register_blueprint(agent.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(receipts.bp)
    app.register_blueprint(rails_admin.bp)
    app.register_blueprint(contacts.bp)
    app.register_blueprint(dialogue_admin.bp)

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok", "sandbox": app.config["SANDBOX"]})
