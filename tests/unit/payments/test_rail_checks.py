"""Check digits of published account numbers, on numbers known to be valid and one-digit typos."""

import pytest

from bot.payments import rail_checks


@pytest.mark.parametrize(
    ("check", "valid"),
    [
        ("clabe", "032180000118359719"),  # the textbook CLABE
        ("cbu", "0170099220000067797370"),  # published CBUs (two banks)
        ("cbu", "2850590940090418135201"),
        ("cuit", "30-50001091-2"),
        ("cuit", "20123456786"),
        ("rut", "12345678-5"),
        ("rut", "76086428-5"),
        ("luhn", "4242424242424242"),  # Stripe's test Visa
    ],
)
def test_valid_numbers_pass_and_a_changed_digit_fails(check, valid):
    validate = rail_checks.CHECKS[check]
    assert validate(valid)
    # Change the last digit: every check digit scheme here catches a single-digit typo.
    last = valid[-1]
    typo = valid[:-1] + ("0" if last != "0" else "1")
    assert not validate(typo)


@pytest.mark.parametrize(
    ("check", "value"),
    [
        ("clabe", "03218000011835971"),  # 17 digits
        ("cbu", "017009922000006779737A"),
        ("cuit", "30-5000109-2"),
        ("rut", "12345678"),  # no check digit
        ("rut", "1234567K-5"),
        ("luhn", "4"),
    ],
)
def test_malformed_numbers_fail(check, value):
    assert not rail_checks.CHECKS[check](value)


def test_rut_check_digit_k():
    # 10 as a check digit is written K (either case).
    body = next(str(n) for n in range(10_000_000, 10_001_000) if rail_checks.rut(f"{n}-K"))
    assert rail_checks.rut(f"{body}-k")


def test_luhn_digit_makes_valid_numbers():
    for digits in ("000001", "123456", "999999"):
        assert rail_checks.luhn(digits + rail_checks.luhn_digit(digits))
