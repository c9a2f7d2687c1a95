"""Amounts and dates as debtors type them, in Spanish and English.

Amounts: "150 mil", "$150.000", "150.000,50", "1,5 millones", "1.5k", "200 dolares", "2 lucas".
Dates: "hoy", "mañana", "pasado mañana", "el viernes", "next Friday", "el 15", "el 15 de
diciembre", "December 15", "15/12", "2026-12-15", "fin de mes", "end of the month", "la quincena",
"en 3 dias", "in two weeks", "la proxima semana".
"""

import calendar
import re
import unicodedata
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from bot.money import exponent

_MULTIPLIERS = {
    "k": 1000,
    "mil": 1000,
    "miles": 1000,
    "luca": 1000,
    "lucas": 1000,
    "thousand": 1000,
    "grand": 1000,
    "m": 1_000_000,
    "millon": 1_000_000,
    "millones": 1_000_000,
    "palo": 1_000_000,
    "palos": 1_000_000,
    "million": 1_000_000,
    "millions": 1_000_000,
}
_NUMBER_WORDS = {
    "un": 1,
    "uno": 1,
    "una": 1,
    "one": 1,
    "a": 1,
    "dos": 2,
    "two": 2,
    "tres": 3,
    "three": 3,
    "cuatro": 4,
    "four": 4,
    "cinco": 5,
    "five": 5,
    "seis": 6,
    "six": 6,
    "siete": 7,
    "seven": 7,
    "ocho": 8,
    "eight": 8,
    "nueve": 9,
    "nine": 9,
    "diez": 10,
    "ten": 10,
    "once": 11,
    "eleven": 11,
    "doce": 12,
    "twelve": 12,
    "quince": 15,
    "fifteen": 15,
    "veinte": 20,
    "twenty": 20,
    "treinta": 30,
    "thirty": 30,
}
_AMOUNT = re.compile(
    r"(?P<number>\d[\d.,' ]*\d|\d)\s*(?P<unit>k|m|mil|miles|lucas?|thousand|grand|"
    r"millon(?:es)?|millions?|palos?)?\b"
)
_AMOUNT_WORDS = re.compile(
    r"\b(?P<word>" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")\s+"
    r"(?P<unit>mil|lucas?|thousand|grand|millon(?:es)?|millions?|palos?)\b"
)


def _plain(text):
    """Lower case without accents: "Mañana" -> "manana"."""
    text = unicodedata.normalize("NFKD", (text or "").lower())
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def _number(raw):
    """Read "150.000", "150,000.50", "1.500.000", "1,5", "1.5" as a Decimal.

    With both marks, the last is the decimal mark; one mark used several times, or followed by
    exactly three digits, separates thousands (nobody owes 1.500 pesos and means one and a
    half); otherwise it is the decimal mark.
    """
    raw = raw.replace(" ", "").replace("'", "")
    groups = re.split(r"[.,]", raw)
    seps = re.findall(r"[.,]", raw)
    if not seps:
        return Decimal(raw)
    last_group = groups[-1]
    if len(set(seps)) == 2:  # both used: the last one is the decimal mark
        integer = "".join(groups[:-1])
        return Decimal(f"{integer}.{last_group}")
    if len(seps) > 1:  # one separator used several times: thousands
        return Decimal("".join(groups))
    if len(last_group) == 3:  # "150.000" or "1,500"
        return Decimal("".join(groups))
    return Decimal(f"{groups[0]}.{last_group}")


def parse_amount(text, currency):
    """The first amount in text as minor units of currency, or None."""
    plain = _plain(text)
    match = _AMOUNT_WORDS.search(plain)
    if match:
        value = Decimal(_NUMBER_WORDS[match.group("word")]) * _MULTIPLIERS[match.group("unit")]
    else:
        match = _AMOUNT.search(plain)
        if not match:
            return None
        try:
            value = _number(match.group("number"))
        except InvalidOperation:
            return None
        unit = match.group("unit")
        if unit:
            value *= _MULTIPLIERS[unit]
    minor = (value * (Decimal(10) ** exponent(currency))).quantize(Decimal(1))
    return int(minor) if minor > 0 else None


_MONTHS = {
    "enero": 1,
    "febrero": 2,
    "marzo": 3,
    "abril": 4,
    "mayo": 5,
    "junio": 6,
    "julio": 7,
    "agosto": 8,
    "septiembre": 9,
    "setiembre": 9,
    "octubre": 10,
    "noviembre": 11,
    "diciembre": 12,
    "january": 1,
    "february": 2,
    "march": 3,
    "april": 4,
    "may": 5,
    "june": 6,
    "july": 7,
    "august": 8,
    "september": 9,
    "october": 10,
    "november": 11,
    "december": 12,
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "sept": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
    "ene": 1,
    "abr": 4,
    "ago": 8,
    "dic": 12,
}
_WEEKDAYS = {
    "lunes": 0,
    "martes": 1,
    "miercoles": 2,
    "jueves": 3,
    "viernes": 4,
    "sabado": 5,
    "domingo": 6,
    "monday": 0,
    "tuesday": 1,
    "wednesday": 2,
    "thursday": 3,
    "friday": 4,
    "saturday": 5,
    "sunday": 6,
}
_MONTH_NAMES = "|".join(sorted(_MONTHS, key=len, reverse=True))
_WEEKDAY_NAMES = "|".join(_WEEKDAYS)
_UNITS = {
    "dia": 1,
    "dias": 1,
    "day": 1,
    "days": 1,
    "semana": 7,
    "semanas": 7,
    "week": 7,
    "weeks": 7,
}


def _end_of_month(day):
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _day_of_month(today, number, past=False):
    """The nearest date whose day of the month is number: the next one (today or later; a
    short month gives its last day), or with past the latest one not after today."""
    year, month = today.year, today.month
    step = -1 if past else 1
    for _ in range(13):
        last = calendar.monthrange(year, month)[1]
        if past:
            candidate = date(year, month, number) if number <= last else None
            if candidate is not None and candidate <= today:
                return candidate
        else:
            candidate = date(year, month, min(number, last))
            if candidate >= today:
                return candidate
        month += step
        if month == 0:
            year, month = year - 1, 12
        elif month == 13:
            year, month = year + 1, 1
    return None


def _count(word):
    return int(word) if word.isdigit() else _NUMBER_WORDS.get(word)


def _nearest(day, month, today, past, year=None):
    """Day and month: in the given year, else the nearest year on the wanted side of today."""
    years = [year] if year else [today.year, today.year + (-1 if past else 1)]
    for candidate_year in years:
        try:
            result = date(candidate_year, month, day)
        except ValueError:
            return None
        if (result <= today) if past else (result >= today):
            return result
    return None


_NO_DATE = object()


def _calendar_date(plain, today, past):
    """A date written out ("2026-12-15", "15/12", "15 de diciembre", "December 15"), or
    _NO_DATE when the text has none; None when it has one on the wrong side of today."""
    match = re.search(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", plain)
    if match:
        year, month, day = (int(g) for g in match.groups())
        return _nearest(day, month, today, past, year)
    match = re.search(r"\b(\d{1,2})[/-](\d{1,2})(?:[/-](\d{2,4}))?\b", plain)
    if match:  # day/month, as written in Latin America
        year = int(match.group(3)) if match.group(3) else None
        if year is not None and year < 100:
            year += 2000
        return _nearest(int(match.group(1)), int(match.group(2)), today, past, year)
    match = re.search(rf"\b(\d{{1,2}})\s*(?:de\s+)?({_MONTH_NAMES})\b", plain)
    if match:
        return _nearest(int(match.group(1)), _MONTHS[match.group(2)], today, past)
    match = re.search(rf"\b({_MONTH_NAMES})\s+(\d{{1,2}})(?:st|nd|rd|th)?\b", plain)
    if match:
        return _nearest(int(match.group(2)), _MONTHS[match.group(1)], today, past)
    return _NO_DATE


def _months_ahead(today, months):
    """The same day, months later (the month's last day when it is shorter)."""
    month = today.month - 1 + months
    year, month = today.year + month // 12, month % 12 + 1
    return date(year, month, min(today.day, calendar.monthrange(year, month)[1]))


def _day_number(plain):
    """ "el 15", "the 15th": the day of the month, or None."""
    match = re.search(r"\b(?:el|the|on the|dia)\s+(\d{1,2})(?:st|nd|rd|th)?\b", plain)
    if match and 1 <= int(match.group(1)) <= 31:
        return int(match.group(1))
    return None


def parse_date(text, today):
    """The first date in text, on or after today, or None. today is the debtor's local date."""
    plain = _plain(text)
    if re.search(r"\bpasado manana\b|\bday after tomorrow\b", plain):
        return today + timedelta(days=2)
    if re.search(r"\b(manana|tomorrow|tmrw|tmr)\b", plain):
        return today + timedelta(days=1)
    if re.search(r"\b(hoy|today|ahorita|ahora)\b", plain):
        return today
    if re.search(r"\b(fin|final|finales) de(l)? mes\b|\bend of (the )?month\b", plain):
        return _end_of_month(today)
    if re.search(r"\bquincena\b", plain):
        return _day_of_month(today, 15) if today.day <= 15 else _end_of_month(today)
    written = _calendar_date(plain, today, past=False)
    if written is not _NO_DATE:
        return written
    match = re.search(
        r"\b(?:en|in|dentro de)\s+(\d+|[a-z]+)\s+(dias?|days?|semanas?|weeks?)\b", plain
    )
    if match and _count(match.group(1)):
        return today + timedelta(days=_count(match.group(1)) * _UNITS[match.group(2)])
    match = re.search(r"\b(?:en|in|dentro de)\s+(\d+|[a-z]+)\s+(mes|meses|months?)\b", plain)
    if match and _count(match.group(1)):  # "en dos meses": far, but a date (the policy decides)
        return _months_ahead(today, _count(match.group(1)))
    if re.search(r"\b(?:en|in)\s+(?:un|a|one)\s+(mes|month)\b", plain):
        return _months_ahead(today, 1)
    if re.search(r"\b(proxima|siguiente) semana\b|\bnext week\b", plain):
        return today + timedelta(days=7 - today.weekday())
    match = re.search(rf"\b({_WEEKDAY_NAMES})\b", plain)
    if match:
        ahead = (_WEEKDAYS[match.group(1)] - today.weekday()) % 7
        if ahead == 0 or re.search(rf"\bnext {match.group(1)}\b", plain):
            ahead = ahead or 7
        return today + timedelta(days=ahead)
    number = _day_number(plain)
    return _day_of_month(today, number) if number else None


def parse_count(text):
    """A number of installments: "6", "en 6 cuotas", "tres", "twelve months"."""
    plain = _plain(text)
    match = re.search(r"\b(\d{1,2})\b", plain)
    if match:
        return int(match.group(1))
    for word in re.findall(r"[a-z]+", plain):
        if word in _NUMBER_WORDS and word not in ("a", "un", "una", "uno", "one"):
            return _NUMBER_WORDS[word]
    return None


def parse_past_date(text, today):
    """The first date in text, on or before today ("ayer", "el viernes", "hace 3 dias",
    "15/11", "November 15"), or None. For "I already paid on ..."."""
    plain = _plain(text)
    if re.search(r"\b(anteayer|antier|antes de ayer)\b|\bday before yesterday\b", plain):
        return today - timedelta(days=2)
    if re.search(r"\b(ayer|yesterday)\b", plain):
        return today - timedelta(days=1)
    if re.search(r"\b(hoy|today|esta manana|this morning)\b", plain):
        return today
    match = re.search(r"\bhace\s+(\d+|[a-z]+)\s+(dias?|semanas?)\b", plain) or re.search(
        r"\b(\d+|[a-z]+)\s+(days?|weeks?)\s+ago\b", plain
    )
    if match and _count(match.group(1)):
        return today - timedelta(days=_count(match.group(1)) * _UNITS[match.group(2)])
    if re.search(r"\bsemana pasada\b|\blast week\b", plain):
        return today - timedelta(days=7)
    written = _calendar_date(plain, today, past=True)
    if written is not _NO_DATE:
        return written
    match = re.search(rf"\b({_WEEKDAY_NAMES})\b", plain)
    if match:
        back = (today.weekday() - _WEEKDAYS[match.group(1)]) % 7
        if back == 0 and re.search(r"\bpasado\b|\blast\b", plain):
            back = 7
        return today - timedelta(days=back)
    number = _day_number(plain)
    return _day_of_month(today, number, past=True) if number else None
