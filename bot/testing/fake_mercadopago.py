"""A local Mercado Pago-compatible API for tests: preferences, payments, preapprovals, and
signed webhook notifications like Mercado Pago's.

The real `mercadopago` SDK talks to it through the app's own transport
(bot.payments.mercado_pago.http_client; MERCADOPAGO_API_BASE points the app here: the SDK has no
base URL setting, so the seam is the `http_client` the SDK accepts). It records every request,
answers like Mercado Pago (JSON in, JSON out, errors as {"message", "error", "status",
"cause"}), can be told to fail, and `notify(payment_id, url)` posts a signed `payment`
notification (x-signature "ts=...,v1=...", x-request-id, ?data.id=&type=) to a URL.

Amounts on this API are JSON numbers in major units (12500.5 means 12 500,50). The fake keeps
them as Decimal (parse_float=Decimal) so nothing here rounds through a float.
"""

import hashlib
import hmac
import itertools
import json
import logging
import secrets
import threading
import uuid
from decimal import Decimal

import requests
from flask import Flask, Response, request
from werkzeug.serving import make_server

from bot import clock
from bot.payments.mercado_pago import http_client


def signature(data_id, request_id, ts, secret):
    """The x-signature header value Mercado Pago sends: ts=<ts>,v1=<hex HMAC-SHA256>.

    Manifest as documented: "id:<data.id>;request-id:<x-request-id>;ts:<ts>;" where a missing
    data.id or x-request-id drops its pair (mercadopago.webhook.validator._build_manifest)."""
    parts = []
    if data_id:
        parts.append(f"id:{data_id}")
    if request_id:
        parts.append(f"request-id:{request_id}")
    parts.append(f"ts:{ts}")
    manifest = ";".join(parts) + ";"
    digest = hmac.new(secret.encode(), manifest.encode(), hashlib.sha256).hexdigest()
    return f"ts={ts},v1={digest}"


def _json(obj, status=200):
    # json.dumps cannot encode Decimal; Mercado Pago sends plain numbers, so write them as such.
    text = json.dumps(obj, default=lambda d: _number(d) if isinstance(d, Decimal) else str(d))
    return Response(text, status=status, mimetype="application/json")


def _number(d):
    return int(d) if d == d.to_integral_value() else float(d)  # str(float) of 2 dp round-trips


def _error(status, message, error, cause=()):
    body = {"message": message, "error": error, "status": status, "cause": list(cause)}
    return _json(body, status)


class FakeMercadoPago:
    def __init__(self, access_token, webhook_secret, collector_id=123456789):
        self.access_token = access_token
        self.webhook_secret = webhook_secret
        self.collector_id = collector_id
        self.preferences = {}  # id -> preference as Mercado Pago returns it
        self.payments = {}  # id (int) -> payment
        self.preapprovals = {}  # id -> preapproval
        self.authorized_payments = {}  # id (int) -> invoice of a preapproval cycle
        self.requests = []  # (method, path, json body, headers) of every call, in order
        self.failures = []  # HTTP statuses to answer the next calls with
        self.idempotent = {}  # x-idempotency-key -> (status, body) of a create
        self.ids = itertools.count(1_000_000_001)
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

    def http_client(self):
        """An HttpClient for mercadopago.SDK(token, http_client=...) that talks to this fake."""
        return http_client(self.url)

    # -- the API -----------------------------------------------------------------------------

    def _build_app(self):
        app = Flask("fake_mercadopago")

        @app.before_request
        def record_and_authorize():
            body = request.get_json(silent=True) if request.data else None
            with self.lock:
                self.requests.append((request.method, request.path, body, dict(request.headers)))
                if request.headers.get("Authorization") != f"Bearer {self.access_token}":
                    return _error(401, "invalid access token", "unauthorized")
                if self.failures:
                    status = self.failures.pop(0)
                    return _error(status, "internal error", "internal_error")
            return None

        @app.post("/checkout/preferences")
        def create_preference():
            return self._idempotent(self._create_preference)

        @app.get("/checkout/preferences/<pref_id>")
        def get_preference(pref_id):
            pref = self.preferences.get(pref_id)
            if pref is None:
                return _error(404, f"Preference {pref_id} not found", "not_found")
            return _json(pref)

        @app.get("/v1/payments/<int:payment_id>")
        def get_payment(payment_id):
            payment = self.payments.get(payment_id)
            if payment is None:
                return _error(404, "Payment not found", "not_found")
            return _json(payment)

        @app.get("/v1/payments/search")
        def search_payments():
            return _json(self._search(self.payments.values()))

        @app.post("/preapproval")
        def create_preapproval():
            return self._idempotent(self._create_preapproval)

        @app.get("/preapproval/<pre_id>")
        def get_preapproval(pre_id):
            pre = self.preapprovals.get(pre_id)
            if pre is None:
                return _error(404, "Preapproval not found", "not_found")
            return _json(pre)

        @app.put("/preapproval/<pre_id>")
        def update_preapproval(pre_id):
            pre = self.preapprovals.get(pre_id)
            if pre is None:
                return _error(404, "Preapproval not found", "not_found")
            body = self._body()
            status = body.get("status")
            if status is not None and status not in ("authorized", "paused", "cancelled"):
                return _error(400, f"invalid status {status}", "bad_request")
            if pre["status"] == "cancelled" and status not in (None, "cancelled"):
                return _error(400, "a cancelled preapproval cannot change", "bad_request")
            with self.lock:
                if status:
                    pre["status"] = status
                if "auto_recurring" in body:
                    pre["auto_recurring"].update(body["auto_recurring"])
                pre["last_modified"] = _now_iso()
            return _json(pre)

        @app.get("/preapproval/search")
        def search_preapprovals():
            return _json(self._search(self.preapprovals.values()))

        @app.get("/authorized_payments/<int:invoice_id>")
        def get_authorized_payment(invoice_id):
            invoice = self.authorized_payments.get(invoice_id)
            if invoice is None:
                return _error(404, "Authorized payment not found", "not_found")
            return _json(invoice)

        return app

    @staticmethod
    def _body():
        return json.loads(request.get_data() or b"{}", parse_float=Decimal)

    def _idempotent(self, create):
        """A repeated x-idempotency-key gets the first answer again, not a second object."""
        key = request.headers.get("X-Idempotency-Key")
        with self.lock:
            if key and key in self.idempotent:
                status, data = self.idempotent[key]
                return Response(data, status=status, mimetype="application/json")
        response = create(self._body())
        if key and response.status_code < 300:
            with self.lock:
                self.idempotent[key] = (response.status_code, response.get_data())
        return response

    def _create_preference(self, body):
        items = body.get("items")
        if not isinstance(items, list) or not items:
            return _error(400, "items needed", "bad_request", [{"code": "items.invalid"}])
        for item in items:
            price, qty = item.get("unit_price"), item.get("quantity")
            if not isinstance(price, (int, Decimal)) or price <= 0:
                return _error(400, "unit_price invalid", "bad_request")
            if not isinstance(qty, int) or qty < 1 or not item.get("title"):
                return _error(400, "quantity or title invalid", "bad_request")
        currencies = {item.get("currency_id") for item in items}
        if len(currencies) != 1:
            return _error(400, "all items must have the same currency_id", "bad_request")
        pref_id = f"{self.collector_id}-{uuid.uuid4()}"
        pref = {
            "id": pref_id,
            "collector_id": self.collector_id,
            "client_id": "fake-app",
            "date_created": _now_iso(),
            "items": items,
            "payer": body.get("payer") or {},
            "external_reference": body.get("external_reference", ""),
            "notification_url": body.get("notification_url"),
            "back_urls": body.get("back_urls") or {"success": "", "failure": "", "pending": ""},
            "auto_return": body.get("auto_return", ""),
            "expires": bool(body.get("expires", False)),
            "expiration_date_from": body.get("expiration_date_from"),
            "expiration_date_to": body.get("expiration_date_to"),
            "date_of_expiration": body.get("date_of_expiration"),
            "payment_methods": body.get("payment_methods") or {},
            "statement_descriptor": body.get("statement_descriptor"),
            "metadata": body.get("metadata") or {},
            "init_point": f"{self.url}/checkout/v1/redirect?pref_id={pref_id}",
            "sandbox_init_point": f"{self.url}/checkout/v1/redirect?pref_id={pref_id}&sandbox=1",
        }
        with self.lock:
            self.preferences[pref_id] = pref
        return _json(pref, 201)

    def _create_preapproval(self, body):
        recurring = body.get("auto_recurring") or {}
        amount = recurring.get("transaction_amount")
        if not body.get("payer_email") or not isinstance(amount, (int, Decimal)) or amount <= 0:
            return _error(
                400, "payer_email and auto_recurring.transaction_amount needed", "bad_request"
            )
        if recurring.get("frequency_type") not in ("days", "months"):
            return _error(400, "frequency_type must be days or months", "bad_request")
        status = body.get("status", "pending")
        if status == "authorized" and not body.get("card_token_id"):
            return _error(400, "card_token_id is required for status authorized", "bad_request")
        pre_id = secrets.token_hex(16)
        pre = {
            "id": pre_id,
            "payer_id": 987654321,
            "payer_email": body["payer_email"],
            "back_url": body.get("back_url"),
            "collector_id": self.collector_id,
            "application_id": 1234,
            "status": status,
            "reason": body.get("reason"),
            "external_reference": body.get("external_reference", ""),
            "date_created": _now_iso(),
            "last_modified": _now_iso(),
            "init_point": f"{self.url}/subscriptions/checkout?preapproval_id={pre_id}",
            "auto_recurring": recurring,
            "next_payment_date": recurring.get("start_date"),
            "payment_method_id": None,
        }
        with self.lock:
            self.preapprovals[pre_id] = pre
        return _json(pre, 201)

    @staticmethod
    def _search(rows):
        """Mercado Pago's search: equality filters on top-level fields, offset/limit paging."""
        args = request.args.to_dict()
        offset, limit = int(args.pop("offset", 0)), int(args.pop("limit", 30))
        for key in ("sort", "criteria", "range", "begin_date", "end_date"):
            args.pop(key, None)
        found = [r for r in rows if all(str(r.get(k)) == v for k, v in args.items())]
        page = found[offset : offset + limit]
        return {"paging": {"total": len(found), "limit": limit, "offset": offset}, "results": page}

    # -- what a payer and Mercado Pago do ----------------------------------------------------

    def pay(
        self,
        preference_id,
        status="approved",
        amount=None,
        payment_method_id="pse",
        payment_type_id="bank_transfer",
        status_detail=None,
    ):
        """A payment made through a preference's checkout (amount defaults to the items total)."""
        pref = self.preferences[preference_id]
        total = sum(Decimal(str(i["unit_price"])) * i["quantity"] for i in pref["items"])
        return self._payment(
            amount=Decimal(amount) if amount is not None else total,
            currency_id=pref["items"][0]["currency_id"],
            external_reference=pref["external_reference"],
            status=status,
            status_detail=status_detail,
            payment_method_id=payment_method_id,
            payment_type_id=payment_type_id,
            metadata=pref["metadata"],
            notification_url=pref["notification_url"],
            order={"id": next(self.ids), "type": "mercadopago"},
        )

    def set_status(self, payment_id, status, status_detail=None):
        """A later status (pending -> approved, approved -> refunded, ...), as Mercado Pago does."""
        with self.lock:
            payment = self.payments[payment_id]
            payment["status"] = status
            payment["status_detail"] = status_detail or _DETAILS.get(status, status)
            payment["date_last_updated"] = _now_iso()
            if status == "approved" and not payment["date_approved"]:
                payment["date_approved"] = _now_iso()
        return payment

    def charge_preapproval(self, preapproval_id, status="approved", status_detail=None):
        """One billing cycle of an authorized preapproval: an invoice and its payment."""
        pre = self.preapprovals[preapproval_id]
        if pre["status"] != "authorized":
            raise ValueError(f"preapproval {preapproval_id} is {pre['status']}, not authorized")
        recurring = pre["auto_recurring"]
        payment = self._payment(
            amount=Decimal(str(recurring["transaction_amount"])),
            currency_id=recurring["currency_id"],
            external_reference=pre["external_reference"],
            status=status,
            status_detail=status_detail,
            payment_method_id="visa",
            payment_type_id="credit_card",
            metadata={"preapproval_id": preapproval_id},
            notification_url=None,
            order={},
        )
        invoice = {
            "id": next(self.ids),
            "type": "scheduled",
            "preapproval_id": preapproval_id,
            "external_reference": pre["external_reference"],
            "transaction_amount": payment["transaction_amount"],
            "currency_id": payment["currency_id"],
            "status": "processed",
            "payment": {
                "id": payment["id"],
                "status": status,
                "status_detail": payment["status_detail"],
            },
            "date_created": _now_iso(),
        }
        with self.lock:
            self.authorized_payments[invoice["id"]] = invoice
        return invoice

    def _payment(
        self,
        *,
        amount,
        currency_id,
        external_reference,
        status,
        status_detail,
        payment_method_id,
        payment_type_id,
        metadata,
        notification_url,
        order,
    ):
        payment = {
            "id": next(self.ids),
            "status": status,
            "status_detail": status_detail or _DETAILS.get(status, status),
            "transaction_amount": amount,
            "currency_id": currency_id,
            "external_reference": external_reference,
            "description": None,
            "payment_method_id": payment_method_id,
            "payment_type_id": payment_type_id,
            "date_created": _now_iso(),
            "date_approved": _now_iso() if status == "approved" else None,
            "date_last_updated": _now_iso(),
            "live_mode": False,
            "collector_id": self.collector_id,
            "metadata": metadata,
            "notification_url": notification_url,
            "order": order,
            "transaction_details": {"total_paid_amount": amount, "net_received_amount": amount},
        }
        with self.lock:
            self.payments[payment["id"]] = payment
        return payment

    # -- notifications -----------------------------------------------------------------------

    def notification(
        self, data_id, type_="payment", action=None, secret=None, ts=None, request_id=None
    ):
        """(query params, body bytes, headers) of a notification as Mercado Pago sends it."""
        request_id = request_id or str(uuid.uuid4())
        ts = str(ts if ts is not None else int(clock.epoch() * 1000))  # milliseconds, as MP
        body = {
            "id": next(self.ids),
            "live_mode": False,
            "type": type_,
            "date_created": _now_iso(),
            "user_id": self.collector_id,
            "api_version": "v1",
            "action": action or f"{type_}.updated",
            "data": {"id": str(data_id)},
        }
        headers = {
            "Content-Type": "application/json",
            "x-request-id": request_id,
            "x-signature": signature(str(data_id), request_id, ts, secret or self.webhook_secret),
        }
        params = {"data.id": str(data_id), "type": type_}
        return params, json.dumps(body).encode(), headers

    def notify(self, data_id, url=None, type_="payment", **kwargs):
        """Post a signed notification about data_id to url (default: its notification_url)."""
        if url is None:
            url = self.payments[int(data_id)]["notification_url"]
        params, payload, headers = self.notification(data_id, type_=type_, **kwargs)
        return requests.post(url, params=params, data=payload, headers=headers, timeout=10)


_DETAILS = {
    "approved": "accredited",
    "pending": "pending_waiting_transfer",
    "in_process": "pending_contingency",
    "rejected": "cc_rejected_other_reason",
    "cancelled": "expired",
    "refunded": "refunded",
    "charged_back": "settled",
}


def _now_iso():
    # Mercado Pago writes local time with offset and milliseconds; the fake writes UTC.
    return clock.utcnow().strftime("%Y-%m-%dT%H:%M:%S.000+00:00")
