"""A local Stripe-compatible API for tests: Checkout Sessions, and signed webhooks like Stripe's.

The real stripe library talks to it (STRIPE_API_BASE points here). It records every session
created, answers like Stripe (form-encoded request, JSON response), can be told to fail, and
`complete(session_id)` posts a signed checkout.session.completed to the app's webhook.

For auto-debit it also serves Customers, Checkout Sessions in setup mode, SetupIntents and
PaymentMethods (retrieve, expand, detach) and off-session PaymentIntents whose outcome follows
the saved card (succeeds; card_declined with a decline code; authentication_required), answered
as Stripe answers (200 succeeded, or 402 card_error carrying the failed PaymentIntent), with
Idempotency-Key replay on every create. `complete_setup(session_id, url, outcome)` saves a card
and posts the signed setup-mode checkout.session.completed.
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

# Saved-card behaviours, named after Stripe's test cards (pm_card_visa,
# pm_card_visa_chargeDeclinedInsufficientFunds, pm_card_authenticationRequired, ...).
OUTCOMES = {
    "succeeds": None,
    "card_declined": ("card_declined", "generic_decline", "Your card was declined."),
    "insufficient_funds": (
        "card_declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
    ),
    "expired_card": ("expired_card", None, "Your card has expired."),
    "authentication_required": (
        "authentication_required",
        "authentication_required",
        "Your card was declined. This transaction requires authentication.",
    ),
}


def _form_dict(form, prefix):
    """metadata[a]=1&metadata[b]=2 -> {"a": "1", "b": "2"}."""
    start = prefix + "["
    return {k[len(start) : -1]: v for k, v in form.items() if k.startswith(start) and "][" not in k}


def _bad(message, param):
    return {"error": {"type": "invalid_request_error", "message": message, "param": param}}, 400


class FakeStripe:
    def __init__(self, secret_key, webhook_secret):
        self.secret_key = secret_key
        self.webhook_secret = webhook_secret
        self.sessions = {}  # id -> the session object as Stripe would return it
        self.requests = []  # (form, headers) of every create, in order
        self.failures = []  # HTTP statuses to answer the next creates with
        # Auto-debit: customers, saved cards and off-session charges.
        self.customers = {}  # id -> customer
        self.setup_intents = {}  # id -> setup intent
        self.payment_methods = {}  # id -> payment method (with the private _outcome)
        self.payment_intents = {}  # id -> payment intent
        self.answers = {}  # (path, Idempotency-Key) -> (json, status): a retry gets the same answer
        self.calls = []  # (method, path, form) of every auto-debit call, in order
        self.lock = threading.Lock()
        self.app = self._build_app()
        self.server = None

    def start(self):
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()

    def _build_payment_app(self):
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

    def _build_app(self):
        app = self._build_payment_app()
        create_payment_session = app.view_functions["create_session"]

        def authorized():
            return request.headers.get("Authorization") == f"Bearer {self.secret_key}"

        def unauthorized():
            error = {"type": "invalid_request_error", "message": "Invalid API Key provided"}
            return jsonify({"error": error}), 401

        def invalid(message, param=None, code=None, status=400):
            error = {"type": "invalid_request_error", "message": message, "param": param}
            if code:
                error["code"] = code
            return jsonify({"error": error}), status

        def once(handler):
            """Answer a repeated Idempotency-Key with the first answer, errors included."""
            key = (request.path, request.headers.get("Idempotency-Key"))
            with self.lock:
                self.calls.append((request.method, request.path, request.form.to_dict()))
                if self.failures:  # injected outage: nothing is created
                    status = self.failures.pop(0)
                    return jsonify({"error": {"type": "api_error", "message": "down"}}), status
                if key[1] and key in self.answers:
                    body, status = self.answers[key]
                    return jsonify(body), status
            body, status = handler(request.form)
            if key[1] and status != 500:
                with self.lock:
                    self.answers[key] = (body, status)
            return jsonify(body), status

        def create_session():
            if request.form.get("mode") != "setup":
                return create_payment_session()
            if not authorized():
                return unauthorized()
            return once(self._create_setup_session)

        app.view_functions["create_session"] = create_session

        @app.post("/v1/customers")
        def create_customer():
            if not authorized():
                return unauthorized()
            return once(self._create_customer)

        @app.get("/v1/setup_intents/<seti_id>")
        def get_setup_intent(seti_id):
            if not authorized():
                return unauthorized()
            seti = self.setup_intents.get(seti_id)
            if seti is None:
                return invalid(
                    f"No such setupintent: '{seti_id}'", "intent", "resource_missing", 404
                )
            if "payment_method" in request.args.getlist("expand[0]"):
                seti = {
                    **seti,
                    "payment_method": self._public(self.payment_methods[seti["payment_method"]]),
                }
            return jsonify(seti)

        @app.get("/v1/payment_methods/<pm_id>")
        def get_payment_method(pm_id):
            if not authorized():
                return unauthorized()
            pm = self.payment_methods.get(pm_id)
            if pm is None:
                return invalid(
                    f"No such PaymentMethod: '{pm_id}'", "payment_method", "resource_missing", 404
                )
            return jsonify(self._public(pm))

        @app.post("/v1/payment_methods/<pm_id>/detach")
        def detach_payment_method(pm_id):
            if not authorized():
                return unauthorized()
            pm = self.payment_methods.get(pm_id)
            if pm is None or pm["customer"] is None:
                return invalid("The payment method you provided is not attached to a customer.")
            with self.lock:
                pm["customer"] = None
            return jsonify(self._public(pm))

        @app.post("/v1/payment_intents")
        def create_payment_intent():
            if not authorized():
                return unauthorized()
            return once(self._create_payment_intent)

        @app.get("/v1/payment_intents/<pi_id>")
        def get_payment_intent(pi_id):
            if not authorized():
                return unauthorized()
            pi = self.payment_intents.get(pi_id)
            if pi is None:
                return invalid(
                    f"No such payment_intent: '{pi_id}'", "intent", "resource_missing", 404
                )
            return jsonify(pi)

        return app

    # -- handlers: (form) -> (json, status) ----------------------------------------------------

    def _create_customer(self, form):
        cus = {
            "id": "cus_" + secrets.token_hex(7),
            "object": "customer",
            "metadata": _form_dict(form, "metadata"),
            "invoice_settings": {"default_payment_method": None},
            "created": int(clock.epoch()),
        }
        with self.lock:
            self.customers[cus["id"]] = cus
        return cus, 200

    def _create_setup_session(self, form):
        error = _bad
        if any(k.startswith("line_items") for k in form):
            return error("You can not pass `line_items` in `setup` mode.", "line_items")
        if not form.get("currency") and not form.get("payment_method_types[0]"):
            return error("currency is required in setup mode.", "currency")
        if form.get("customer") not in self.customers:
            return error(f"No such customer: '{form.get('customer')}'", "customer")
        session_id = "cs_test_" + secrets.token_hex(12)
        obj = {
            "id": session_id,
            "object": "checkout.session",
            "mode": "setup",
            "amount_total": None,
            "currency": form.get("currency"),
            "customer": form["customer"],
            "client_reference_id": form.get("client_reference_id"),
            "metadata": _form_dict(form, "metadata"),
            "setup_intent": None,  # set when the customer completes the page
            "payment_intent": None,
            "success_url": form.get("success_url"),
            "cancel_url": form.get("cancel_url"),
            "payment_status": "no_payment_required",
            "status": "open",
            "url": f"{self.url}/c/setup/{session_id}",
            "_idempotency_key": request.headers.get("Idempotency-Key"),
            "_setup_metadata": _form_dict(form, "setup_intent_data[metadata]"),
        }
        with self.lock:
            self.sessions[session_id] = obj
        return self._public(obj), 200

    def _create_payment_intent(self, form):
        invalid = _bad
        try:
            amount = int(form["amount"])
        except (KeyError, ValueError):
            return invalid("Missing required param: amount.", "amount")
        if amount <= 0 or not form.get("currency"):
            return invalid("amount must be positive and currency given.", "amount")
        if form.get("confirm") != "true" or form.get("off_session") not in (
            "true",
            "recurring",
            "one_off",
        ):
            return invalid(
                "This fake serves off-session charges: confirm=true, off_session=true.",
                "off_session",
            )
        pm = self.payment_methods.get(form.get("payment_method"))
        if pm is None:
            return invalid(
                f"No such PaymentMethod: '{form.get('payment_method')}'", "payment_method"
            )
        if pm["customer"] is None or pm["customer"] != form.get("customer"):
            return invalid(
                "The provided PaymentMethod does not belong to the Customer "
                "(it was detached, or belongs to another one).",
                "payment_method",
            )
        pi_id = "pi_" + secrets.token_hex(12)
        outcome = OUTCOMES[pm["_outcome"]]
        pi = {
            "id": pi_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_received": 0,
            "currency": form["currency"],
            "customer": form["customer"],
            "payment_method": pm["id"],
            "description": form.get("description"),
            "metadata": _form_dict(form, "metadata"),
            "capture_method": "automatic",
            "confirmation_method": "automatic",
            "created": int(clock.epoch()),
            "latest_charge": None,
            "last_payment_error": None,
            "status": "succeeded",
        }
        if outcome is None:
            pi["amount_received"] = amount
            pi["latest_charge"] = "ch_" + secrets.token_hex(12)
        else:
            code, decline_code, message = outcome
            error = {
                "type": "card_error",
                "code": code,
                "decline_code": decline_code,
                "message": message,
                "charge": "ch_" + secrets.token_hex(12),
                "payment_method": self._public(pm),
            }
            pi["status"] = "requires_payment_method"  # what a failed confirm leaves behind
            pi["latest_charge"] = error["charge"]
            pi["last_payment_error"] = {k: v for k, v in error.items() if k != "charge"}
        with self.lock:
            self.payment_intents[pi_id] = pi
        if outcome is None:
            return pi, 200
        return {
            "error": {
                **pi["last_payment_error"],
                "charge": pi["latest_charge"],
                "payment_intent": pi,
            }
        }, 402

    # -- what the customer and Stripe do ----------------------------------------------------------

    def complete_setup(
        self, session_id, webhook_url=None, outcome="succeeds", brand="visa", last4="4242"
    ):
        """The customer saves a card on the setup page: a PaymentMethod attached to the session's
        customer, a succeeded SetupIntent, and a signed checkout.session.completed to webhook_url
        (the response), or (payload, headers) to post when no URL is given. outcome says what
        later off-session charges on this card do (see OUTCOMES)."""
        session = self.sessions[session_id]
        pm = {
            "id": "pm_" + secrets.token_hex(12),
            "object": "payment_method",
            "type": "card",
            "customer": session["customer"],
            "card": {"brand": brand, "last4": last4, "exp_month": 12, "exp_year": 2030},
            "_outcome": outcome,
        }
        seti = {
            "id": "seti_" + secrets.token_hex(12),
            "object": "setup_intent",
            "status": "succeeded",
            "usage": "off_session",
            "customer": session["customer"],
            "payment_method": pm["id"],
            "metadata": session["_setup_metadata"],
        }
        with self.lock:
            self.payment_methods[pm["id"]] = pm
            self.setup_intents[seti["id"]] = seti
            session.update(status="complete", setup_intent=seti["id"])
        event = self.event(session_id)
        payload, headers = self.signed(event)
        if webhook_url is None:
            return payload, headers
        return requests.post(webhook_url, data=payload, headers=headers, timeout=10)

    def set_card_outcome(self, pm_id, outcome):
        """The card starts failing (or works again) for the next charges."""
        with self.lock:
            self.payment_methods[pm_id]["_outcome"] = outcome

    def payment_intent_event(self, pi_id, event_id=None):
        """payment_intent.succeeded or payment_intent.payment_failed, as sent after a charge."""
        pi = self.payment_intents[pi_id]
        type_ = (
            "payment_intent.succeeded"
            if pi["status"] == "succeeded"
            else "payment_intent.payment_failed"
        )
        return {
            "id": event_id or "evt_" + secrets.token_hex(12),
            "object": "event",
            "type": type_,
            "created": int(clock.epoch()),
            "data": {"object": dict(pi)},
        }

    def deliver(self, event, webhook_url):
        payload, headers = self.signed(event)
        return requests.post(webhook_url, data=payload, headers=headers, timeout=10)

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
