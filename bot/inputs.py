"""Text and numbers from outside (webhooks, forms, CSV files, payment events), checked in one
place before they reach the database.

PostgreSQL refuses what SQLite stores without a word (a NUL character, a value longer than its
column, an integer beyond BIGINT), so everything is checked here first and both databases
behave the same: an identifier that breaks a rule is refused (the caller answers 4xx or
reports the CSV row), free text a person wrote loses its control characters and is kept.
"""

import re

# C0 control characters and DEL, except tab, line feed and carriage return.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_OR_BREAK = re.compile(r"[\x00-\x1f\x7f]")
# The largest amount of money accepted anywhere, in minor units: a thousand billion units of
# a currency with cents, far inside BIGINT (9.2e18) so that sums of many stay inside it too.
MAX_MINOR = 10**15


class BadInput(ValueError):
    """A value from outside that cannot be used; the message names the field and why."""


def length(column):
    """The declared length of a model's String column (e.g. inputs.length(Debtor.email))."""
    return column.property.columns[0].type.length


def clean_text(value, max_length=None):
    """Free text a person wrote (a message, a note, a dispute): control characters other than
    tab and line breaks dropped, blanks around it stripped, cut to max_length."""
    text = _CONTROL.sub("", str(value or "")).strip()
    return text[:max_length] if max_length else text


def text(value, field, max_length, required=False, multiline=False):
    """A line of text (a name, an e-mail, a reference): refused when it holds a control
    character (line breaks only where multiline) or is longer than max_length; None when
    empty and not required."""
    value = "" if value is None else str(value)
    value = value.strip()
    if not value:
        if required:
            raise BadInput(f"{field} is missing")
        return None
    pattern = _CONTROL if multiline else _CONTROL_OR_BREAK
    if pattern.search(value):
        raise BadInput(f"{field} contains a control character")
    if len(value) > max_length:
        raise BadInput(f"{field} is longer than {max_length} characters")
    return value


def integer(value, field, minimum, maximum):
    """A whole number within [minimum, maximum] from an int or from decimal digits."""
    if isinstance(value, bool):
        raise BadInput(f"{field} is not a whole number")
    if isinstance(value, str):
        digits = value.strip()
        sign = -1 if digits.startswith("-") else 1
        digits = digits.lstrip("+-")
        if not (digits.isascii() and digits.isdigit()) or len(digits) > 19:
            raise BadInput(f"{field} is not a whole number")
        value = sign * int(digits)
    if not isinstance(value, int):
        raise BadInput(f"{field} is not a whole number")
    if not minimum <= value <= maximum:
        raise BadInput(f"{field} must be between {minimum} and {maximum}")
    return value


def minor_amount(value, field="amount"):
    """An amount of money in minor units: a whole number from 0 to MAX_MINOR."""
    return integer(value, field, 0, MAX_MINOR)
