"""Phone numbers: E.164 normalisation, the time zones a number may be in, privacy-safe display."""

from functools import lru_cache

import phonenumbers
from phonenumbers import timezone as pn_timezone


class PhoneError(ValueError):
    """A phone number that cannot be used."""


def normalise(raw, country=None):
    """Return the E.164 form of raw, reading national numbers in country's plan.

    A Mexican mobile written the way WhatsApp still sends it, with the 1 Mexico dropped from
    its dialling plan in 2019 (+52 1 55 1234 5678), is read as the number it is (+52 55 ...)."""
    try:
        number = phonenumbers.parse((raw or "").strip(), (country or "").upper() or None)
    except phonenumbers.NumberParseException as exc:
        raise PhoneError(f"phone {mask(raw)} cannot be read ({exc.args[0]})") from exc
    national = str(number.national_number)
    if (
        number.country_code == 52
        and len(national) == 11
        and national.startswith("1")
        and not phonenumbers.is_valid_number(number)
    ):
        number = phonenumbers.PhoneNumber(country_code=52, national_number=int(national[1:]))
    if not phonenumbers.is_valid_number(number):
        raise PhoneError(f"phone {mask(raw)} is not a valid number for {country or 'any country'}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=4096)
def time_zones(e164):
    """Every IANA zone the number may be in, sorted; () when none is known."""
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return ()
    zones = pn_timezone.time_zones_for_number(number)
    return tuple(sorted(z for z in zones if "/" in z and not z.startswith("Etc/")))


def time_zone(e164):
    """The number's single time zone, or None when it spans several (or none is known)."""
    zones = time_zones(e164)
    return zones[0] if len(zones) == 1 else None


def mask(raw):
    """Show only the last 3 digits, for logs and reports."""
    digits = "".join(ch for ch in str(raw or "") if ch.isdigit())
    return ("*" * max(len(digits) - 3, 0) + digits[-3:]) if digits else "''"
