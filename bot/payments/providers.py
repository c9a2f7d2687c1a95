"""Payment providers behind one small interface: create a checkout, read a signed webhook.

Both adapters speak Stripe's webhook format (a JSON event signed with a `t=...,v1=...`
HMAC-SHA256 header), so one verifier and one reconciliation path serve them all. A second real
provider (MercadoPago) is another class with the same two methods and its own `read_event`.
"""

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from flask import current_app

from bot import clock, inputs

STRIPE_HEADER = "Stripe-Signature"
SANDBOX_HEADER = "Sandbox-Signature"


class BadEvent(ValueError):
    """A webhook payload that is not a usable event (answered with 400)."""


class BadSignature(BadEvent):
    """A webhook whose signature does not verify (answered with 403)."""


class ProviderError(RuntimeError):
    """The provider could not create a checkout now; the debtor may try again."""


@dataclass(frozen=True)
class Event:
    """A provider event reduced to what reconciliation needs.

    kind: completed (money received), pending (completed, money not yet confirmed),
    failed, expired, or other (ignored)."""

    id: str
    type: str
    kind: str
    ref: str | None
    amount_minor: int | None
    currency: str | None


@dataclass(frozen=True)
class CreatedCheckout:
    ref: str
    url: str


def sign(payload, secret, timestamp=None):
    """The Stripe-Signature header value for payload (bytes or str), as Stripe computes it."""
    timestamp = int(timestamp if timestamp is not None else clock.epoch())
    body = payload.decode() if isinstance(payload, bytes) else payload
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


_KINDS = {
    "checkout.session.async_payment_succeeded": "completed",
    "checkout.session.async_payment_failed": "failed",
    "checkout.session.expired": "expired",
}


def event_from_stripe_json(data):
    """Reduce a Stripe-shaped event (dict) to an Event; raises BadEvent for any other shape,
    an id or reference with a control character or too long, or an amount out of range."""
    obj = data.get("data") if isinstance(data, dict) else None
    obj = obj.get("object") if isinstance(obj, dict) else None
    if not isinstance(obj, dict):
        raise BadEvent("event has no id, type or data.object")
    try:
        event_id = inputs.text(_scalar(data.get("id")), "event id", 128, required=True)
        event_type = inputs.text(_scalar(data.get("type")), "event type", 64, required=True)
        ref = inputs.text(_scalar(obj.get("id")), "data.object.id", 128)
        amount = obj.get("amount_total")
        if amount is not None:
            amount = inputs.minor_amount(amount, "amount_total")
        currency = inputs.text(_scalar(obj.get("currency")), "currency", 3)
        status = _scalar(obj.get("payment_status"))
    except inputs.BadInput as exc:
        raise BadEvent(str(exc)) from exc
    if currency is not None and not (currency.isascii() and currency.isalpha()):
        raise BadEvent("currency is not an ISO 4217 code")
    if event_type == "checkout.session.completed":
        paid = status in ("paid", "no_payment_required")
        kind = "completed" if paid else "pending"
    else:
        kind = _KINDS.get(event_type, "other")
    if kind == "completed" and amount is None:
        raise BadEvent("a completed checkout has no amount_total")
    return Event(
        id=event_id,
        type=event_type,
        kind=kind,
        ref=ref,
        amount_minor=amount,
        currency=currency.upper() if currency else None,
    )


def _scalar(value):
    """A JSON string or number as text; None stays None; anything else is refused."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise inputs.BadInput("a field that should be text is a list, an object or a boolean")


def _verify(payload, header, secret):
    import stripe  # on first use: it costs ~160 ms and ~10 MiB in every process that imports it

    try:
        stripe.WebhookSignature.verify_header(payload.decode("utf-8"), header, secret, 300)
    except stripe.SignatureVerificationError as exc:
        raise BadSignature("signature does not verify") from exc
    except UnicodeDecodeError as exc:
        raise BadEvent("payload is not UTF-8") from exc
    try:
        return json.loads(payload)
    except ValueError as exc:
        raise BadEvent("payload is not JSON") from exc


class StripeProvider:
    """Stripe Checkout through the stripe library; STRIPE_API_BASE points it at a fake in tests."""

    name = "stripe"
    header = STRIPE_HEADER

    def __init__(self, config):
        import stripe

        self.secret_key = config["STRIPE_SECRET_KEY"]
        self.webhook_secret = config["STRIPE_WEBHOOK_SECRET"]
        bases = {"api": config["STRIPE_API_BASE"]} if config.get("STRIPE_API_BASE") else None
        self.client = stripe.StripeClient(
            self.secret_key, base_addresses=bases, max_network_retries=2
        )

    def create_checkout(self, checkout, description, success_url, cancel_url):
        import stripe

        params = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": checkout.currency.lower(),
                        "unit_amount": checkout.amount_minor,
                        "product_data": {"name": description},
                    },
                }
            ],
            "success_url": success_url,
            "cancel_url": cancel_url,
            "client_reference_id": str(checkout.id),
            "metadata": {"checkout_id": str(checkout.id)},
        }
        try:
            # The idempotency key makes a retried request return the same session, not a second.
            session = self.client.v1.checkout.sessions.create(
                params=params, options={"idempotency_key": f"checkout-{checkout.id}"}
            )
        except stripe.StripeError as exc:
            raise ProviderError(f"Stripe refused the checkout: {type(exc).__name__}") from exc
        return CreatedCheckout(ref=session.id, url=session.url)

    def read_event(self, payload, headers):
        data = _verify(payload, headers.get(self.header), self.webhook_secret)
        return event_from_stripe_json(data)


class SandboxProvider:
    """Demo mode: a checkout page inside the app whose Pay button posts a signed event to the
    app's own webhook, through the same verification and reconciliation as Stripe's."""

    name = "sandbox"
    header = SANDBOX_HEADER

    def __init__(self, config):
        self.base_url = config["PUBLIC_BASE_URL"]
        self.webhook_secret = config["SANDBOX_PAYMENT_SECRET"]

    def create_checkout(self, checkout, description, success_url, cancel_url):
        ref = "cs_sandbox_" + secrets.token_urlsafe(18)
        return CreatedCheckout(ref=ref, url=f"{self.base_url}/pay/sandbox/checkout/{ref}")

    def read_event(self, payload, headers):
        data = _verify(payload, headers.get(self.header), self.webhook_secret)
        return event_from_stripe_json(data)

    def completed_event(self, checkout):
        """(payload bytes, headers) of a signed checkout.session.completed for checkout."""
        event = {
            "id": "evt_sandbox_" + secrets.token_hex(12),
            "object": "event",
            "type": "checkout.session.completed",
            "data": {
                "object": {
                    "id": checkout.provider_ref,
                    "object": "checkout.session",
                    "amount_total": checkout.amount_minor,
                    "currency": checkout.currency.lower(),
                    "payment_status": "paid",
                    "client_reference_id": str(checkout.id),
                }
            },
        }
        payload = json.dumps(event).encode()
        return payload, {self.header: sign(payload, self.webhook_secret)}


ADAPTERS = {"stripe": StripeProvider, "sandbox": SandboxProvider}


def get(name=None):
    """The provider configured for this app (or the named one)."""
    config = current_app.config
    name = name or config["PAYMENT_PROVIDER"]
    cache = current_app.extensions.setdefault("payment_providers", {})
    if name not in cache:
        cache[name] = ADAPTERS[name](config)
    return cache[name]
