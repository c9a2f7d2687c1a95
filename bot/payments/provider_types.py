"""What every payment provider adapter speaks: the events it reads, the checkouts it creates,
the off-session charges it makes, and its errors (bot.payments.providers re-exports them)."""

import hashlib
import hmac
from dataclasses import dataclass, field

from bot import clock


class BadEvent(ValueError):
    """A webhook payload that is not a usable event (answered with 400)."""


class BadSignature(BadEvent):
    """A webhook whose signature does not verify (answered with 403)."""


class ProviderError(RuntimeError):
    """The provider could not create a checkout now; the debtor may try again."""


class ProviderUnavailable(ProviderError):
    """The provider could not be asked about an event now (answered with 503, so the provider
    sends it again later)."""


@dataclass(frozen=True)
class Event:
    """A provider event reduced to what reconciliation needs.

    kind: completed (money received), pending (completed, money not yet confirmed),
    failed, expired, refunded, setup_completed (a payment method saved for auto-debit), or
    other (ignored). ref names the checkout; payment_ref the provider's payment when one
    checkout can take several (Mercado Pago: a declined card, then a bank transfer)."""

    id: str
    type: str
    kind: str
    ref: str | None
    amount_minor: int | None
    currency: str | None
    payment_ref: str | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class CreatedCheckout:
    ref: str
    url: str


@dataclass(frozen=True)
class Charge:
    """The answer to one off-session charge.

    outcome: succeeded; pending (the provider finishes it by webhook); declined (a soft
    decline: another try on a later day may work); needs_debtor (a new card or the bank's
    authentication: the debtor must act); provider_down (the same attempt, later)."""

    outcome: str
    ref: str | None = None
    amount_minor: int | None = None
    code: str | None = None
    decline_code: str | None = None


@dataclass(frozen=True)
class SavedMethod:
    """A payment method saved for auto-debit: references and what the debtor recognises."""

    customer_ref: str | None
    method_ref: str
    brand: str | None
    last4: str | None


def sign(payload, secret, timestamp=None):
    """The Stripe-Signature header value for payload (bytes or str), as Stripe computes it."""
    timestamp = int(timestamp if timestamp is not None else clock.epoch())
    body = payload.decode() if isinstance(payload, bytes) else payload
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"
