"""A local Stripe-compatible API for tests: Checkout Sessions, and signed webhooks like Stripe's.

The real stripe library talks to it (STRIPE_API_BASE points here). It records every session
created, answers like Stripe (form-encoded request, JSON response), can be told to fail, and
`complete(session_id)` posts a signed checkout.session.completed to the app's webhook.
"""

import json
import logging
import secrets
import threading

import requests
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from bot import clock
from bot.payments.providers import sign


class FakeStripe:
    def __init__(self, secret_key, webhook_secret):
        self.secret_key = secret_key
        self.webhook_secret = webhook_secret
        self.sessions = {}  # id -> the session object as Stripe would return it
        self.requests = []  # (form, headers) of every create, in order
        self.failures = []  # HTTP statuses to answer the next creates with
        self.lock = threading.Lock()
        self.app = self._build_app()
        self.server = None

    def start(self):
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()

    def _build_app(self):
        app = Flask("fake_stripe")

        @app.post("/v1/checkout/sessions")
        def create_session():
            if request.headers.get("Authorization") != f"Bearer {self.secret_key}":
                error = {"type": "invalid_request_error", "message": "Invalid API Key provided"}
                return jsonify({"error": error}), 401
            with self.lock:
                self.requests.append((request.form.to_dict(), dict(request.headers)))
                if self.failures:
                    status = self.failures.pop(0)
                    return jsonify({"error": {"type": "api_error", "message": "down"}}), status
                key = request.headers.get("Idempotency-Key")
                for existing in self.sessions.values():
                    if key and existing["_idempotency_key"] == key:
                        return jsonify(self._public(existing))
                form = request.form
                session_id = "cs_test_" + secrets.token_hex(12)
                obj = {
                    "id": session_id,
                    "object": "checkout.session",
                    "mode": form.get("mode"),
                    "amount_total": int(form["line_items[0][price_data][unit_amount]"]),
                    "currency": form["line_items[0][price_data][currency]"],
                    "client_reference_id": form.get("client_reference_id"),
                    "metadata": {"checkout_id": form.get("metadata[checkout_id]")},
                    "success_url": form.get("success_url"),
                    "cancel_url": form.get("cancel_url"),
                    "payment_status": "unpaid",
                    "status": "open",
                    "url": f"{self.url}/c/pay/{session_id}",
                    "_idempotency_key": key,
                }
                self.sessions[session_id] = obj
            return jsonify(self._public(obj))

        return app

    @staticmethod
    def _public(obj):
        return {k: v for k, v in obj.items() if not k.startswith("_")}

    def event(self, session_id, type_="checkout.session.completed", event_id=None, **changes):
        """A Stripe event about a session, with the session's fields changed as given."""
        obj = {**self._public(self.sessions[session_id]), **changes}
        return {
            "id": event_id or "evt_" + secrets.token_hex(12),
            "object": "event",
            "type": type_,
            "created": int(clock.epoch()),
            "data": {"object": obj},
        }

    def signed(self, event, secret=None, timestamp=None):
        """(payload bytes, headers) signed as Stripe signs webhooks."""
        payload = json.dumps(event).encode()
        header = sign(payload, secret or self.webhook_secret, timestamp)
        return payload, {"Stripe-Signature": header, "Content-Type": "application/json"}

    def complete(self, session_id, webhook_url, **changes):
        """Pay the session and post the signed checkout.session.completed to webhook_url."""
        event = self.event(session_id, payment_status="paid", status="complete", **changes)
        payload, headers = self.signed(event)
        return requests.post(webhook_url, data=payload, headers=headers, timeout=10)
