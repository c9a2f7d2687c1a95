from datetime import date

import pytest

from bot.debts.parsing import parse_amount, parse_count, parse_date

TODAY = date(2026, 11, 23)  # a Monday


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("150 mil", "COP", 15_000_000),
        ("$150.000", "COP", 15_000_000),
        ("te puedo dar 150.000 pesos", "COP", 15_000_000),
        ("1,5 millones", "COP", 150_000_000),
        ("1.5 millones", "COP", 150_000_000),
        ("1.5k", "USD", 150_000),
        ("200 dolares", "USD", 20_000),
        ("$1,250.50", "USD", 125_050),
        ("1.250,50", "MXN", 125_050),
        ("dos lucas", "CLP", 2_000),
        ("50 lucas", "CLP", 50_000),
        ("three thousand", "USD", 300_000),
        ("420", "USD", 42_000),
        ("1.500.000", "COP", 150_000_000),
        ("nada", "USD", None),
        ("0", "USD", None),
    ],
)
def test_parse_amount(text, currency, minor):
    assert parse_amount(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hoy", date(2026, 11, 23)),
        ("mañana", date(2026, 11, 24)),
        ("manana temprano", date(2026, 11, 24)),
        ("tomorrow", date(2026, 11, 24)),
        ("pasado mañana", date(2026, 11, 25)),
        ("el viernes", date(2026, 11, 27)),
        ("next Friday", date(2026, 11, 27)),
        ("el lunes", date(2026, 11, 30)),  # today is Monday: the next one
        ("a fin de mes", date(2026, 11, 30)),
        ("end of the month", date(2026, 11, 30)),
        ("en la quincena", date(2026, 11, 30)),  # past the 15th: the end of the month
        ("el 15 de diciembre", date(2026, 12, 15)),
        ("December 15", date(2026, 12, 15)),
        ("dec 15th", date(2026, 12, 15)),
        ("15/12", date(2026, 12, 15)),
        ("15/12/2026", date(2026, 12, 15)),
        ("2026-12-15", date(2026, 12, 15)),
        ("el 5", date(2026, 12, 5)),
        ("el 30", date(2026, 11, 30)),
        ("en 3 dias", date(2026, 11, 26)),
        ("in two weeks", date(2026, 12, 7)),
        ("la proxima semana", date(2026, 11, 30)),
        ("el 10 de enero", date(2027, 1, 10)),
        ("le puedo pagar en dos meses?", date(2027, 1, 23)),
        ("in a month", date(2026, 12, 23)),
        ("no se", None),
        ("31/02", None),
    ],
)
def test_parse_date(text, expected):
    assert parse_date(text, TODAY) == expected


def test_quincena_before_the_15th():
    assert parse_date("la quincena", date(2026, 11, 3)) == date(2026, 11, 15)


@pytest.mark.parametrize(
    ("text", "count"),
    [("6", 6), ("en 6 cuotas", 6), ("tres", 3), ("twelve months", 12), ("una", None)],
)
def test_parse_count(text, count):
    assert parse_count(text) == count


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ayer", date(2026, 11, 22)),
        ("yesterday", date(2026, 11, 22)),
        ("antier", date(2026, 11, 21)),
        ("hoy en la mañana", date(2026, 11, 23)),
        ("el viernes", date(2026, 11, 20)),
        ("last friday", date(2026, 11, 20)),
        ("el lunes pasado", date(2026, 11, 16)),
        ("hace 3 dias", date(2026, 11, 20)),
        ("two weeks ago", date(2026, 11, 9)),
        ("la semana pasada", date(2026, 11, 16)),
        ("el 15 de noviembre", date(2026, 11, 15)),
        ("November 15", date(2026, 11, 15)),
        ("15/11", date(2026, 11, 15)),
        ("el 30", date(2026, 10, 30)),
        ("el 15 de diciembre", date(2025, 12, 15)),
        ("2026-12-01", None),  # a payment cannot be in the future
        ("no se", None),
    ],
)
def test_parse_past_date(text, expected):
    from bot.debts.parsing import parse_past_date

    assert parse_past_date(text, TODAY) == expected
