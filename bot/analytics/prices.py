"""Prices per message and channel, entered by an admin (audited), for the cost per unit
recovered. Prices are exact decimals in major units (0.0125 USD), never floats."""

from decimal import Decimal, InvalidOperation

from sqlalchemy import select

from bot import audit, channels, users
from bot.models import MessagePrice
from bot.money import MoneyError, check_currency

CHANNELS = (channels.WHATSAPP, channels.SMS, "email")
MAX_PRICE = Decimal("1000000")


class PriceError(ValueError):
    """A price that cannot be saved."""


def parse_price(text):
    try:
        value = Decimal((text or "").strip())
    except InvalidOperation:
        raise PriceError("the price is a decimal number with a dot, like 0.0125") from None
    if not value.is_finite() or value < 0 or value >= MAX_PRICE:
        raise PriceError("the price is zero or more, and less than a million")
    if value != value.quantize(Decimal("0.000001")):
        raise PriceError("a price has at most six decimals")
    return value


def save(session, channel, currency, text, user):
    """Set (or with an empty text, remove) the price of a message on channel in currency."""
    if channel not in CHANNELS:
        raise PriceError(f"the channel is one of {', '.join(CHANNELS)}")
    try:
        currency = check_currency(currency)
    except MoneyError as exc:
        raise PriceError(str(exc)) from None
    row = session.get(MessagePrice, (channel, currency))
    before = str(row.price) if row is not None else None
    if not (text or "").strip():
        if row is not None:
            session.delete(row)
            audit.record(
                session, users.actor(user), "price.removed", row, {"before": before, "after": None}
            )
        return None
    price = parse_price(text)
    if row is None:
        row = MessagePrice(channel=channel, currency=currency, price=price)
        session.add(row)
    elif row.price == price:
        return row
    row.price, row.updated_by = price, users.actor(user)
    audit.record(
        session, users.actor(user), "price.set", row, {"before": before, "after": str(price)}
    )
    return row


def all_prices(session):
    """{(channel, currency): Decimal price}."""
    return {
        (row.channel, row.currency): row.price
        for row in session.execute(select(MessagePrice)).scalars()
    }
