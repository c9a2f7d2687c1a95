"""Money as integer minor units beside an ISO 4217 currency; never a float."""

import re
from decimal import Decimal, InvalidOperation

from babel.numbers import get_currency_precision, is_currency

_AMOUNT = re.compile(r"^\d{1,15}(\.\d{1,4})?$")


class MoneyError(ValueError):
    """An amount or currency that cannot be used."""


def exponent(currency):
    """Number of minor-unit digits of a currency (CLDR data: COP 2, CLP 0, USD 2)."""
    return get_currency_precision(currency)


def check_currency(code):
    code = (code or "").strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code) or not is_currency(code):
        raise MoneyError(f"unknown currency {code!r} (expected an ISO 4217 code such as COP)")
    return code


def parse_minor(text, currency):
    """Parse a plain decimal string with a dot ("1500.50") into minor units of currency."""
    text = (text or "").strip()
    if not _AMOUNT.match(text):
        raise MoneyError(f"amount {text!r} is not a decimal number with a dot, like 1500.50")
    try:
        value = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the regex already guards this
        raise MoneyError(f"amount {text!r} is not a number") from exc
    digits = exponent(currency)
    minor = value.scaleb(digits)
    if minor != minor.to_integral_value():
        raise MoneyError(f"amount {text} has more decimals than {currency} allows ({digits})")
    return int(minor)


def to_decimal(minor, currency):
    return Decimal(int(minor)).scaleb(-exponent(currency))


def money_var(minor, currency):
    """A template variable for an amount: JSON-safe, typed, exact."""
    return {"amount": str(to_decimal(minor, currency)), "currency": currency}
