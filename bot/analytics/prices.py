"""Prices per message and channel, entered by an admin (audited), for the cost per unit
recovered. Prices are exact decimals in major units (0.0125 USD), never floats."""

import re
from decimal import Decimal

from sqlalchemy import select

from bot import audit, channels, users
from bot.models import MessagePrice
from bot.money import MoneyError, check_currency

CHANNELS = (channels.WHATSAPP, channels.SMS, "email")
_PRICE = re.compile(r"^\d{1,6}(\.\d{1,6})?$")


class PriceError(ValueError):
    """A price that cannot be saved."""


def parse_price(text):
    text = (text or "").strip()
    if not _PRICE.match(text):
        raise PriceError(
            "the price is a decimal number with a dot and at most six decimals, like 0.0125, "
            "under a million"
        )
    return Decimal(text)


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
