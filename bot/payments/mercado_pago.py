"""Mercado Pago through its official SDK: a Checkout Pro preference out, a signed Webhooks
notification in, the payment read back from the API.

A notification names a payment (data.id in the query string) and carries no amount or status,
so reading one means asking the API with our token: a replayed or forged notification can only
make us read a payment again. The signature is checked with the SDK's own validator
(x-signature "ts=...,v1=..." over "id:<data.id>;request-id:<x-request-id>;ts:<ts>;").

The SDK has no base URL setting; BaseUrlHttpClient (the SDK's transport with the host swapped)
points it at MERCADOPAGO_API_BASE in tests, and in production also retries a 5xx on POST (the
stock client does not; every SDK call sends one x-idempotency-key, so a retry is safe).
"""

import logging
from datetime import timedelta
from decimal import Decimal

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from bot import clock
from bot.money import exponent
from bot.payments.provider_types import (
    BadEvent,
    BadSignature,
    CreatedCheckout,
    Event,
    ProviderError,
    ProviderUnavailable,
)

log = logging.getLogger(__name__)
MP_API = "https://api.mercadopago.com"  # what the SDK prefixes to every path

# payment.status -> the reconciliation kind (providers.Event.kind).
KINDS = {
    "approved": "completed",
    "authorized": "pending",  # a card authorised, not captured yet
    "pending": "pending",  # a cash ticket or a transfer not paid yet
    "in_process": "pending",  # under review
    "in_mediation": "other",  # a dispute at Mercado Pago: nothing moves by itself
    "rejected": "other",  # the payer may try again in the same checkout: it stays open
    "cancelled": "expired",  # a cash ticket that expired, or cancelled
    "refunded": "refunded",
    "charged_back": "refunded",
}
# Cash tickets (Efecty, OXXO, Pago Fácil) need time: Mercado Pago credits them up to two
# business hours after the payer pays, and recommends at least three days.
MIN_TICKET_HOURS = 72


def unit_price(minor, currency):
    """The JSON number for an amount: the SDK's encoder refuses Decimal, so an int when whole,
    else a float whose repr is exactly the amount (exact below 15 significant digits)."""
    value = Decimal(int(minor)).scaleb(-exponent(currency))
    if value == value.to_integral_value():
        return int(value)
    as_float = float(value)
    if Decimal(repr(as_float)) != value:
        raise ValueError(f"{value} {currency} cannot be sent exactly")
    return as_float


def to_minor(amount, currency):
    """Minor units of a transaction_amount the SDK parsed (int or float), exactly, or BadEvent."""
    if isinstance(amount, bool) or not isinstance(amount, int | float | Decimal):
        raise BadEvent("transaction_amount is not a number")
    value = Decimal(repr(amount)) if isinstance(amount, float) else Decimal(amount)
    minor = value.scaleb(exponent(currency))
    if minor != minor.to_integral_value() or minor < 0:
        raise BadEvent(f"transaction_amount has more decimals than {currency} allows")
    return int(minor)


def _http_client_class():
    from mercadopago.http import HttpClient

    class BaseUrlHttpClient(HttpClient):
        """The SDK's transport with the API host swapped, retrying 5xx and 429 on every method."""

        def __init__(self, base_url):
            self.base_url = base_url.rstrip("/")

        def request(
            self, method, url, maxretries=None, retry_on=None, backoff_factor=None, **kwargs
        ):
            if url.startswith(MP_API):
                url = self.base_url + url[len(MP_API) :]
            retry = Retry(
                total=3 if maxretries is None else maxretries,
                status_forcelist=retry_on or [429, 500, 502, 503, 504],
                backoff_factor=backoff_factor or 0.2,
                allowed_methods=None,  # POST too: the call's x-idempotency-key makes it safe
                raise_on_status=False,
            )
            with requests.Session() as session:
                session.mount("http://", HTTPAdapter(max_retries=retry))
                session.mount("https://", HTTPAdapter(max_retries=retry))
                result = session.request(method, url, **kwargs)
                try:
                    body = result.json() if result.status_code != 204 and result.content else None
                except ValueError:
                    body = None
            return {"status": result.status_code, "response": body}

    return BaseUrlHttpClient


def http_client(base_url=MP_API):
    """An HttpClient for mercadopago.SDK that talks to base_url (Mercado Pago, or a fake)."""
    return _http_client_class()(base_url)


class MercadoPagoProvider:
    """Checkout Pro through the mercadopago SDK (imported on first use, like stripe)."""

    name = "mercadopago"
    supports_autodebit = False  # see README: preapprovals do not fit installment plans

    def __init__(self, config):
        import mercadopago
        from mercadopago.config import RequestOptions

        self.webhook_secret = config["MERCADOPAGO_WEBHOOK_SECRET"]
        self.ttl_hours = config["PAY_LINK_TTL_HOURS"]
        self.timeout = 10.0
        self.sdk = mercadopago.SDK(
            config["MERCADOPAGO_ACCESS_TOKEN"],
            http_client=http_client(config.get("MERCADOPAGO_API_BASE") or MP_API),
            request_options=RequestOptions(connection_timeout=self.timeout, max_retries=2),
        )

    def _options(self, idempotency_key=None):
        from mercadopago.config import RequestOptions

        headers = {"x-idempotency-key": idempotency_key} if idempotency_key else None
        return RequestOptions(
            connection_timeout=self.timeout, max_retries=2, custom_headers=headers
        )

    def create_checkout(self, checkout, description, success_url, cancel_url):
        ref = f"chk-{checkout.id}"
        now = clock.aware(clock.utcnow(), "UTC")
        expires = now + timedelta(hours=self.ttl_hours)
        ticket_expires = now + timedelta(hours=max(self.ttl_hours, MIN_TICKET_HOURS))
        body = {
            "items": [
                {
                    "id": ref,
                    "title": description,
                    "quantity": 1,
                    "currency_id": checkout.currency,
                    "unit_price": unit_price(checkout.amount_minor, checkout.currency),
                }
            ],
            # Comes back on every payment made in this checkout: how an event finds it.
            "external_reference": ref,
            "back_urls": {"success": success_url, "pending": success_url, "failure": cancel_url},
            "auto_return": "approved",
            "expires": True,
            "expiration_date_to": expires.isoformat(timespec="milliseconds"),
            "date_of_expiration": ticket_expires.isoformat(timespec="milliseconds"),
            "metadata": {"checkout_id": str(checkout.id)},
        }
        try:
            # A stable key: a retried create returns the same preference, not a second one.
            result = self.sdk.preference().create(body, self._options(f"checkout-{checkout.id}"))
        except requests.RequestException as exc:
            raise ProviderError(f"Mercado Pago unreachable: {type(exc).__name__}") from exc
        response = result.get("response") or {}
        if not 200 <= result.get("status", 0) < 300 or not response.get("init_point"):
            raise ProviderError(f"Mercado Pago refused the preference: {result.get('status')}")
        return CreatedCheckout(ref=ref, url=response["init_point"])

    def read_event(self, payload, headers, args=None):
        """Verify a Webhooks notification (query string and headers) and read its payment."""
        from mercadopago.webhook import InvalidWebhookSignatureError, WebhookSignatureValidator

        args = args or {}
        data_id = args.get("data.id") or args.get("id")
        topic = args.get("type") or args.get("topic")
        try:
            # No tolerance_seconds: the SDK reads ts as seconds while Mercado Pago sends
            # milliseconds, which would refuse every notification; a replay is harmless anyway.
            WebhookSignatureValidator.validate(
                headers.get("x-signature"),
                headers.get("x-request-id"),
                data_id,
                self.webhook_secret,
            )
        except InvalidWebhookSignatureError as exc:
            raise BadSignature(f"signature does not verify: {exc.reason.value}") from exc
        if not data_id or len(str(data_id)) > 64:
            raise BadEvent("the notification names no data.id")
        if topic != "payment":
            return Event(f"{topic}:{data_id}"[:128], str(topic)[:64], "other", None, None, None)
        if not str(data_id).isdigit():
            raise BadEvent("a payment id is a number")
        try:
            result = self.sdk.payment().get(data_id, self._options())
        except requests.RequestException as exc:
            raise ProviderUnavailable(f"Mercado Pago unreachable: {type(exc).__name__}") from exc
        if result.get("status") != 200 or not isinstance(result.get("response"), dict):
            # Not readable now (even a 404 can be a payment not replicated yet): ask again later.
            raise ProviderUnavailable(f"cannot read payment {data_id}: {result.get('status')}")
        return event_from_payment(result["response"])


def event_from_payment(payment):
    """Reduce a Mercado Pago payment (dict) to an Event; raises BadEvent."""
    try:
        payment_id, status = str(payment["id"]), str(payment["status"])
        currency = str(payment["currency_id"]).upper()
        amount = to_minor(payment["transaction_amount"], currency)
    except (KeyError, TypeError, ValueError) as exc:
        raise BadEvent(f"the payment cannot be read: {exc}") from exc
    ref = payment.get("external_reference") or None
    return Event(
        # One event per payment and status: a redelivery is a duplicate, a change is new.
        id=f"{payment_id}:{status}"[:128],
        type=f"payment.{status}"[:64],
        kind=KINDS.get(status, "other"),
        ref=str(ref)[:128] if ref else None,
        amount_minor=amount,
        currency=currency,
        payment_ref=payment_id,
        extra={
            "method": payment.get("payment_method_id"),
            "method_type": payment.get("payment_type_id"),
            "status_detail": payment.get("status_detail"),
        },
    )
