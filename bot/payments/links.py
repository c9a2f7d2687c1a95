"""Payment links: signed, expiring tokens for one account; nothing guessable or personal."""

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

SALT = "payment-link"


class LinkInvalid(ValueError):
    """A tampered or unknown link."""


class LinkExpired(LinkInvalid):
    """A genuine link past its lifetime."""


def _serializer():
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def payment_url(account, amount_minor=None):
    """The link to the account's pay page; with amount_minor, the page offers to pay that
    amount (a partial payment the debtor chose in chat)."""
    data = {"a": account.id, "d": account.debtor_id}
    if amount_minor:
        data["m"] = int(amount_minor)
    token = _serializer().dumps(data)
    return f"{current_app.config['PUBLIC_BASE_URL']}/pay/{token}"


def amount_of(token):
    """The amount a (valid) link was made for, or None."""
    try:
        value = _serializer().loads(token).get("m")
    except BadSignature:
        return None
    return value if isinstance(value, int) and value > 0 else None


def read(token):
    """Return (account_id, debtor_id) from a token, or raise LinkExpired / LinkInvalid."""
    max_age = current_app.config["PAY_LINK_TTL_HOURS"] * 3600
    try:
        data = _serializer().loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise LinkExpired("link expired") from exc
    except BadSignature as exc:
        raise LinkInvalid("link not valid") from exc
    return data["a"], data["d"]


def read_expired(token):
    """(account_id, debtor_id) from a genuine token whatever its age: to send a fresh link to
    the phone it was for. Raises LinkInvalid when the signature does not verify."""
    try:
        data = _serializer().loads(token)
    except BadSignature as exc:
        raise LinkInvalid("link not valid") from exc
    return data["a"], data["d"]
