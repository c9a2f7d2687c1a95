"""Check digits of the account numbers creditors publish (and of our own payment reference), so
that a typo in the admin console, or in a number read off a receipt photo, is caught."""


def luhn_digit(digits):
    """The Luhn check digit for a string of digits."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char) * (2 if i % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return str((10 - total % 10) % 10)


def luhn(number):
    return number.isdigit() and len(number) > 1 and luhn_digit(number[:-1]) == number[-1]


def clabe(number):
    """Mexico's CLABE: weights 3, 7, 1 over the first 17 digits, each product taken mod 10."""
    if not (number.isdigit() and len(number) == 18):
        return False
    weights = (3, 7, 1) * 6
    total = sum(int(d) * weights[i] % 10 for i, d in enumerate(number[:17]))
    return (10 - total % 10) % 10 == int(number[17])


def _weighted_check(digits, weights):
    return (10 - sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 10) % 10


def cbu(number):
    """Argentina's CBU/CVU: two blocks (8 and 14 digits), each ending in its check digit."""
    if not (number.isdigit() and len(number) == 22):
        return False
    first, second = number[:8], number[8:]
    return _weighted_check(first[:7], (7, 1, 3, 9, 7, 1, 3)) == int(first[7]) and (
        _weighted_check(second[:13], (3, 9, 7, 1, 3, 9, 7, 1, 3, 9, 7, 1, 3)) == int(second[13])
    )


def cuit(number):
    """Argentina's CUIT/CUIL (11 digits, dashes optional): mod 11 with weights 5..2, 7..2."""
    digits = number.replace("-", "")
    if not (digits.isdigit() and len(digits) == 11):
        return False
    total = sum(
        int(d) * w for d, w in zip(digits[:10], (5, 4, 3, 2, 7, 6, 5, 4, 3, 2), strict=True)
    )
    check = {11: 0, 10: 9}.get(11 - total % 11, 11 - total % 11)
    return check == int(digits[10])


def rut(number):
    """Chile's RUT ("12345678-5"): mod 11 with weights 2..7 from the right; 10 is K."""
    body, _, check = number.upper().partition("-")
    if not (body.isdigit() and check):
        return False
    total, weight = 0, 2
    for char in reversed(body):
        total += int(char) * weight
        weight = weight + 1 if weight < 7 else 2
    expected = {11: "0", 10: "K"}.get(11 - total % 11, str(11 - total % 11))
    return check == expected


CHECKS = {"luhn": luhn, "clabe": clabe, "cbu": cbu, "cuit": cuit, "rut": rut}
