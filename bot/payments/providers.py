"""Payment providers behind one small interface: create a checkout, read a signed webhook, and
(for auto-debit) save a payment method and charge it off-session.

Stripe and the sandbox speak Stripe's webhook format (a JSON event signed with a `t=...,v1=...`
HMAC-SHA256 header); Mercado Pago (bot.payments.mercado_pago) has its own signature and reads
the payment from its API. All of them reduce an event to one Event, so one reconciliation path
serves them all. The shared types live in bot.payments.provider_types.
"""

import hashlib
import json
import secrets

from flask import current_app

from bot import inputs
from bot.payments.mercado_pago import MercadoPagoProvider
from bot.payments.provider_types import (
    BadEvent,
    BadSignature,
    Charge,
    CreatedCheckout,
    Event,
    ProviderError,
    ProviderUnavailable,
    SavedMethod,
    sign,
)

__all__ = [
    "ADAPTERS",
    "BadEvent",
    "BadSignature",
    "Charge",
    "CreatedCheckout",
    "Event",
    "ProviderError",
    "ProviderUnavailable",
    "SavedMethod",
    "get",
    "sign",
]

STRIPE_HEADER = "Stripe-Signature"
SANDBOX_HEADER = "Sandbox-Signature"
# Declines worth another try on a later day (the bank may accept then); every other card
# failure needs the debtor (a new card, the bank's authentication).
SOFT_DECLINES = frozenset(
    (
        "insufficient_funds",
        "generic_decline",
        "try_again_later",
        "processing_error",
        "do_not_honor",
        "issuer_not_available",
        "reenter_transaction",
    )
)


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
        intent = event_type.startswith("payment_intent.")
        field = "amount_received" if intent else "amount_total"
        amount = obj.get(field)
        if amount is not None:
            if not isinstance(amount, int):  # Stripe sends integers; text here is not Stripe
                raise inputs.BadInput(f"{field} is not a whole number of minor units")
            amount = inputs.minor_amount(amount, field)
        currency = inputs.text(_scalar(obj.get("currency")), "currency", 3)
        status = _scalar(obj.get("payment_status"))
    except inputs.BadInput as exc:
        raise BadEvent(str(exc)) from exc
    if currency is not None and not (currency.isascii() and currency.isalpha()):
        raise BadEvent("currency is not an ISO 4217 code")
    if intent:
        return _payment_intent_event(event_id, event_type, obj, ref, amount, currency)
    if obj.get("mode") == "setup":
        # A payment method saved for auto-debit (Checkout in setup mode): no money moves.
        kind = "setup_completed" if event_type == "checkout.session.completed" else "other"
        return Event(
            id=event_id,
            type=event_type,
            kind=kind,
            ref=ref,
            amount_minor=None,
            currency=None,
            extra={"setup_intent": obj.get("setup_intent"), "customer": obj.get("customer")},
        )
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


_INTENT_KINDS = {
    "payment_intent.succeeded": "completed",
    "payment_intent.processing": "pending",
    "payment_intent.payment_failed": "failed",
}


def _payment_intent_event(event_id, event_type, obj, ref, amount, currency):
    """An off-session charge (auto-debit): the checkout is the PaymentIntent itself."""
    kind = _INTENT_KINDS.get(event_type, "other")
    if kind != "completed":
        amount = None
    elif not amount:
        raise BadEvent("a succeeded payment intent has no amount_received")
    error = obj.get("last_payment_error")
    error = error if isinstance(error, dict) else {}
    return Event(
        id=event_id,
        type=event_type,
        kind=kind,
        ref=ref,
        amount_minor=amount,
        currency=currency.upper() if currency else None,
        extra={"code": error.get("code"), "decline_code": error.get("decline_code")},
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

    def read_event(self, payload, headers, args=None):
        data = _verify(payload, headers.get(self.header), self.webhook_secret)
        return event_from_stripe_json(data)

    # -- auto-debit: save a card with Checkout in setup mode, charge it off-session ----------

    supports_autodebit = True

    def start_setup(self, mandate, currency, success_url, cancel_url, customer_ref=None):
        """(customer ref, CreatedCheckout) of a setup-mode Checkout that saves a card."""
        import stripe

        account = str(mandate.account_id)
        try:
            if customer_ref is None:
                # No name, e-mail or phone: a customer is only what the card hangs on.
                customer = self.client.v1.customers.create(
                    params={"metadata": {"account_id": account}},
                    options={"idempotency_key": f"customer-account-{account}"},
                )
                customer_ref = customer.id
            session = self.client.v1.checkout.sessions.create(
                params={
                    "mode": "setup",
                    "customer": customer_ref,
                    "currency": currency.lower(),  # required in setup mode
                    "success_url": success_url,
                    "cancel_url": cancel_url,
                    "client_reference_id": account,
                    "metadata": {"mandate_id": str(mandate.id), "purpose": "autodebit"},
                    "setup_intent_data": {"metadata": {"mandate_id": str(mandate.id)}},
                },
                options={"idempotency_key": f"autodebit-setup-{mandate.id}"},
            )
        except stripe.StripeError as exc:
            raise ProviderError(f"Stripe refused the setup: {type(exc).__name__}") from exc
        return customer_ref, CreatedCheckout(ref=session.id, url=session.url)

    def saved_method(self, event):
        """The card a completed setup saved (SavedMethod), read from its SetupIntent."""
        import stripe

        setup_intent = event.extra.get("setup_intent")
        if not setup_intent:
            raise BadEvent("a completed setup has no setup_intent")
        try:
            seti = self.client.v1.setup_intents.retrieve(
                setup_intent, params={"expand": ["payment_method"]}
            )
        except stripe.StripeError as exc:
            raise ProviderUnavailable(f"cannot read the setup: {type(exc).__name__}") from exc
        method = seti.payment_method
        card = getattr(method, "card", None)
        return SavedMethod(
            customer_ref=seti.customer or event.extra.get("customer"),
            method_ref=method.id,
            brand=getattr(card, "brand", None),
            last4=getattr(card, "last4", None),
        )

    def charge(self, mandate, key, amount_minor, currency, metadata):
        """One off-session charge; the key makes a re-run of the same attempt (a retried job)
        get the first answer instead of a second charge."""
        import stripe

        params = {
            "amount": amount_minor,
            "currency": currency.lower(),
            "customer": mandate.customer_ref,
            "payment_method": mandate.method_ref,
            "off_session": True,
            "confirm": True,
            "metadata": metadata,
        }
        try:
            intent = self.client.v1.payment_intents.create(
                params=params, options={"idempotency_key": key}
            )
        except stripe.CardError as exc:
            error = exc.error
            intent = getattr(error, "payment_intent", None)
            ref = intent.get("id") if isinstance(intent, dict) else getattr(intent, "id", None)
            soft = error.code == "card_declined" and error.decline_code in SOFT_DECLINES
            outcome = "declined" if soft else "needs_debtor"
            return Charge(outcome, ref, code=error.code, decline_code=error.decline_code)
        except stripe.InvalidRequestError as exc:
            # The card was detached or belongs to no customer: only the debtor can fix that.
            return Charge("needs_debtor", code=getattr(exc, "code", None) or "invalid_request")
        except stripe.StripeError:
            return Charge("provider_down")  # the same attempt later, with the same key
        if intent.status == "succeeded":
            return Charge("succeeded", intent.id, amount_minor=intent.amount_received)
        return Charge("pending", intent.id)

    def forget_method(self, mandate):
        """Detach the saved card, so that no later charge can use it."""
        import stripe

        if not mandate.method_ref:
            return
        try:
            self.client.v1.payment_methods.detach(mandate.method_ref)
        except stripe.StripeError as exc:
            raise ProviderError(f"Stripe could not detach the card: {type(exc).__name__}") from exc


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

    def read_event(self, payload, headers, args=None):
        data = _verify(payload, headers.get(self.header), self.webhook_secret)
        return event_from_stripe_json(data)

    def _signed(self, event):
        payload = json.dumps(event).encode()
        return payload, {self.header: sign(payload, self.webhook_secret)}

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
        return self._signed(event)

    # -- auto-debit: a page of the app saves a pretend card; its outcome decides the charges --

    supports_autodebit = True
    # Card endings after Stripe's test cards: each makes later charges behave that way.
    CARDS = {
        "succeeds": "4242",
        "insufficient_funds": "9995",
        "authentication_required": "3184",
        "expired_card": "0069",
    }

    def start_setup(self, mandate, currency, success_url, cancel_url, customer_ref=None):
        ref = "cs_sandbox_setup_" + secrets.token_urlsafe(18)
        customer_ref = customer_ref or f"cus_sandbox_{mandate.account_id}"
        return customer_ref, CreatedCheckout(ref, f"{self.base_url}/pay/sandbox/setup/{ref}")

    def setup_completed_event(self, mandate, outcome):
        """(payload, headers) of the signed checkout.session.completed of a setup page."""
        if outcome not in self.CARDS:
            raise ValueError(f"unknown sandbox card {outcome!r}")
        event = {
            "id": "evt_sandbox_" + secrets.token_hex(12),
            "object": "event",
            "type": "checkout.session.completed",
            "data": {
                "object": {
                    "id": mandate.setup_ref,
                    "object": "checkout.session",
                    "mode": "setup",
                    "customer": mandate.customer_ref,
                    "setup_intent": f"seti_sandbox_{outcome}_{secrets.token_hex(6)}",
                    "payment_status": "no_payment_required",
                }
            },
        }
        return self._signed(event)

    def saved_method(self, event):
        seti = event.extra.get("setup_intent") or ""
        outcome = next((o for o in self.CARDS if seti.startswith(f"seti_sandbox_{o}_")), None)
        if outcome is None:
            raise BadEvent("not a sandbox setup")
        return SavedMethod(
            customer_ref=event.extra.get("customer"),
            method_ref=f"pm_sandbox_{outcome}_{secrets.token_hex(6)}",
            brand="visa",
            last4=self.CARDS[outcome],
        )

    def charge(self, mandate, key, amount_minor, currency, metadata):
        """Answer as Stripe would for the saved card; the same key gets the same reference."""
        ref = "pi_sandbox_" + hashlib.sha256(key.encode()).hexdigest()[:24]
        outcome = next(
            (o for o in self.CARDS if (mandate.method_ref or "").startswith(f"pm_sandbox_{o}_")),
            None,
        )
        if outcome == "succeeds":
            return Charge("succeeded", ref, amount_minor=amount_minor)
        if outcome == "insufficient_funds":
            return Charge("declined", ref, code="card_declined", decline_code=outcome)
        return Charge("needs_debtor", ref, code=outcome or "invalid_request")

    def forget_method(self, mandate):
        """Nothing is stored anywhere else."""


ADAPTERS = {
    "stripe": StripeProvider,
    "sandbox": SandboxProvider,
    "mercadopago": MercadoPagoProvider,
}


def get(name=None):
    """The provider configured for this app (or the named one)."""
    config = current_app.config
    name = name or config["PAYMENT_PROVIDER"]
    cache = current_app.extensions.setdefault("payment_providers", {})
    if name not in cache:
        cache[name] = ADAPTERS[name](config)
    return cache[name]
