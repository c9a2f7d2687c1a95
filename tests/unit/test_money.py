from decimal import Decimal

import pytest

from bot.money import MoneyError, check_currency, parse_minor, to_decimal


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("150000.00", "COP", 15000000),
        ("150000", "COP", 15000000),
        ("2350.5", "MXN", 235050),
        ("89990", "CLP", 89990),
        ("0.10", "USD", 10),
    ],
)
def test_parse_minor(text, currency, minor):
    assert parse_minor(text, currency) == minor
    assert to_decimal(minor, currency) == Decimal(text)


@pytest.mark.parametrize(
    ("text", "currency", "reason"),
    [
        ("1,500.00", "USD", "decimal number with a dot"),
        ("1500,00", "COP", "decimal number with a dot"),
        ("-5", "USD", "decimal number with a dot"),
        ("12.345", "USD", "more decimals"),
        ("100.5", "CLP", "more decimals"),
        ("abc", "USD", "decimal number"),
    ],
)
def test_parse_minor_rejects(text, currency, reason):
    with pytest.raises(MoneyError, match=reason):
        parse_minor(text, currency)


def test_unknown_currency():
    with pytest.raises(MoneyError, match="ISO 4217"):
        check_currency("XYZ")
    assert check_currency(" cop ") == "COP"
