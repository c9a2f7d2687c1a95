"""Console accounts: agents and admins, with scrypt-hashed passwords."""

import re

from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from bot import audit, inputs
from bot.clock import utcnow
from bot.models import User

ROLES = ("agent", "admin")
MIN_PASSWORD = 12
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Checked when the e-mail is unknown, so a wrong e-mail costs as much time as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-password-of-anyone", method="scrypt")


class UserError(ValueError):
    """A user that cannot be created as asked (the message says why)."""


def normalise_email(email):
    return (email or "").strip().lower()


def find(session, email):
    try:  # what a sign-in form posts: never a NUL or 10 KB into the query
        email = inputs.text(normalise_email(email), "e-mail", inputs.length(User.email), True)
    except inputs.BadInput:
        return None
    return session.execute(select(User).where(func.lower(User.email) == email)).scalar_one_or_none()


def create_user(session, email, password, role, actor="cli"):
    """Create a console user, or reset the password and role of an existing one."""
    email = normalise_email(email)
    if not _EMAIL.match(email):
        raise UserError(f"{email!r} is not an e-mail address")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if len(password or "") < MIN_PASSWORD:
        raise UserError(f"the password must have at least {MIN_PASSWORD} characters")
    user = find(session, email)
    created = user is None
    if created:
        user = User(email=email)
        session.add(user)
    user.password_hash = generate_password_hash(password, method="scrypt")
    user.role = role
    user.active = True
    audit.record(
        session, actor, "user.created" if created else "user.updated", user, {"role": role}
    )
    return user, created


def authenticate(session, email, password):
    """The active user with this e-mail and password, else None (same cost either way)."""
    user = find(session, email)
    if user is None or not user.active:
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    if not check_password_hash(user.password_hash, password or ""):
        return None
    user.last_login_at = utcnow()
    return user


def actor(user):
    """How the audit log names a console user."""
    return f"{user.role}:{user.id}"
