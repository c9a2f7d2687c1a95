"""Stripe's refund and dispute events reduced to the Event reconciliation reads: a refund
(charge.refunded: amount_refunded is all refunded so far, partial refunds included) and a
chargeback (charge.dispute.created: Stripe takes the disputed amount back at once), and a
dispute won (charge.dispute.closed with status won: the money comes back). They name the
PaymentIntent (else the charge), which the payment of a checkout keeps as intent_ref."""

from bot import inputs
from bot.payments.provider_types import BadEvent, Event

REVERSAL_KINDS = {
    "charge.refunded": "refunded",
    "charge.dispute.created": "charged_back",
    # A dispute closed in the creditor's favour: Stripe gives the money back.
    "charge.dispute.closed": "reinstated",
}


def reversal_event(event_id, event_type, obj):
    """A Charge or a Dispute reduced to an Event naming its PaymentIntent (else its charge)."""
    kind = REVERSAL_KINDS[event_type]
    if kind == "reinstated" and obj.get("status") != "won":
        kind = "other"  # lost (the chargeback stands) or a warning closed: nothing moves
    field = "amount_refunded" if kind == "refunded" else "amount"
    try:
        intent = inputs.text(scalar(obj.get("payment_intent")), "payment_intent", 128)
        charge = obj.get("charge") if kind == "charged_back" else obj.get("id")
        charge = inputs.text(scalar(charge), "charge", 128)
        currency = inputs.text(scalar(obj.get("currency")), "currency", 3, required=True)
        reason = inputs.text(scalar(obj.get("reason")), "reason", 64)
        amounts = {}
        for name in (field, "amount"):
            value = obj.get(name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise inputs.BadInput(f"{name} is not a whole number of minor units")
            amounts[name] = inputs.minor_amount(value, name)
    except inputs.BadInput as exc:
        raise BadEvent(str(exc)) from exc
    if not (intent or charge):
        raise BadEvent(f"{event_type} names no payment_intent or charge")
    extra = {"charge": charge, "reason": reason}
    if kind == "refunded":
        extra["paid_minor"] = amounts["amount"]  # what the charge took: a payment to apply
    return Event(
        id=event_id,
        type=event_type,
        kind=kind,
        ref=intent or charge,
        amount_minor=amounts[field],
        currency=currency.upper(),
        payment_ref=intent or charge,
        extra=extra,
    )


def scalar(value):
    """A JSON string or number as text; None stays None; anything else is refused."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise inputs.BadInput("a field that should be text is a list, an object or a boolean")
