"""Prices per message: exact decimals, audited, refused with a reason."""

from decimal import Decimal

import pytest
from sqlalchemy import select

from bot.analytics import prices
from bot.models import AuditEvent


def test_a_price_is_kept_exactly_and_audited(db):
    prices.save(db, "whatsapp", "usd", "0.0125", _admin(db))
    db.commit()
    assert prices.all_prices(db) == {("whatsapp", "USD"): Decimal("0.0125")}
    prices.save(db, "whatsapp", "USD", "", _admin(db))
    db.commit()
    assert prices.all_prices(db) == {}
    actions = db.execute(select(AuditEvent.action).order_by(AuditEvent.id)).scalars().all()
    assert actions[-2:] == ["price.set", "price.removed"]


@pytest.mark.parametrize(
    "channel, currency, text",
    [("fax", "USD", "1"), ("sms", "US", "1"), ("sms", "USD", "-1"), ("sms", "USD", "1e3"),
     ("sms", "USD", "0.0000001"), ("sms", "USD", "NaN")],
)  # fmt: skip
def test_bad_prices_are_refused(db, channel, currency, text):
    with pytest.raises(prices.PriceError):
        prices.save(db, channel, currency, text, _admin(db))


def _admin(db):
    from bot import users

    found = users.find(db, "boss@example.com")
    if found is None:
        found, _created = users.create_user(db, "boss@example.com", "x" * 16, "admin")
        db.flush()
    return found
