"""Phone numbers: E.164 normalisation, the time zones a number may be in, privacy-safe display."""

from functools import lru_cache
from pathlib import Path

import phonenumbers
import yaml
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE
from phonenumbers.tzdata import TIMEZONE_DATA

# Where phonenumbers' zones are wrong or too narrow (split area codes, Mexico since 2022, Chile):
# prefix -> zones. See the file's comments for the sources.
CORRECTIONS_FILE = Path(__file__).resolve().parent / "phone_zones.yml"


class PhoneError(ValueError):
    """A phone number that cannot be used."""


def normalise(raw, country=None, geographic=False):
    """Return the E.164 form of raw, reading national numbers in country's plan; geographic
    refuses numbers of no country (+800 freephone, +882 networks: no local hours apply).

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
    if geographic and phonenumbers.region_code_for_number(number) in (None, "001", "ZZ"):
        raise PhoneError(
            f"phone {mask(raw)} belongs to no country (calling code {number.country_code})"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=1)
def corrections():
    data = yaml.safe_load(CORRECTIONS_FILE.read_text(encoding="utf-8")) or {}
    return {str(prefix): tuple(sorted(zones)) for prefix, zones in data.items()}


@lru_cache(maxsize=1)
def _nanp_area_codes():
    """Area code -> every zone phonenumbers gives any number under it (exchange keys too)."""
    index = {}
    for key, zones in TIMEZONE_DATA.items():
        if key.startswith("1") and len(key) >= 4:
            index.setdefault(key[1:4], set()).update(zones)
    return index


def _usable(zones):
    return tuple(sorted(z for z in zones if "/" in z and not z.startswith("Etc/")))


@lru_cache(maxsize=65536)
def time_zones(e164):
    """Every IANA zone the number may be in, sorted; () when the number says nothing usable
    (invalid, non-geographic such as toll-free, or only the whole country).

    Corrections first (longest prefix); US and Canadian numbers at area-code level, since a
    mobile keeps its number when its owner moves; elsewhere phonenumbers' longest prefix."""
    digits = "".join(ch for ch in str(e164 or "") if ch.isdigit())
    if not digits:
        return ()
    fixed = corrections()
    for end in range(min(len(digits), 7), 0, -1):
        if digits[:end] in fixed:
            return fixed[digits[:end]]
    if digits[0] == "1":
        return _usable(_nanp_area_codes().get(digits[1:4], ()))
    for end in range(min(len(digits), 10), 0, -1):
        zones = TIMEZONE_DATA.get(digits[:end])
        if zones:
            if int(digits[:end]) in COUNTRY_CODE_TO_REGION_CODE:
                # Only the whole country: no usable zone unless the country has one.
                zones = _usable(zones)
                return zones if len(zones) == 1 else ()
            return _usable(zones)
    return ()


def time_zone(e164):
    """The number's single time zone, or None when it spans several (or none is known)."""
    zones = time_zones(e164)
    return zones[0] if len(zones) == 1 else None


def mask(raw):
    """Show only the last 3 digits, for logs and reports."""
    digits = "".join(ch for ch in str(raw or "") if ch.isdigit())
    return ("*" * max(len(digits) - 3, 0) + digits[-3:]) if digits else "''"
