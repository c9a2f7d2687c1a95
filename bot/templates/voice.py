"""A portfolio's voice: the register the bot addresses its debtors in (tú, usted, vos) and the
creditor it names. The portfolio is the segment of the debtor's debts (as for payment policies),
else "default"; admins choose both per portfolio, CREDITOR_NAME is the creditor by default."""

from flask import current_app

from bot.models import Portfolio
from bot.templates.store import BASE_REGISTER, REGISTERS

DEFAULT = "default"


def portfolio_of(debtor):
    """The portfolio a debtor's conversation speaks for: its first debt's segment, else the
    debtor's own segment, else the default one."""
    if debtor is None:
        return DEFAULT
    for account in debtor.accounts:
        if account.segment:
            return account.segment
    return debtor.segment or DEFAULT


def settings(session, name):
    """The portfolio's row, else the default portfolio's, else None."""
    return session.get(Portfolio, name) or (
        session.get(Portfolio, DEFAULT) if name != DEFAULT else None
    )


def register_for(session, debtor):
    """The register to write to this debtor in; None for the base texts."""
    row = settings(session, portfolio_of(debtor))
    register = row.register if row is not None else None
    return register if register in REGISTERS and register != BASE_REGISTER else None


def registers(session):
    """{portfolio: register} for every portfolio that has one (batch renderers cache this)."""
    rows = session.query(Portfolio).all()
    return {r.name: r.register for r in rows if r.register and r.register != BASE_REGISTER}


def creditor_name(session, debtor):
    """The creditor named to a verified debtor: the portfolio's, else CREDITOR_NAME; "" when
    neither is set."""
    row = settings(session, portfolio_of(debtor))
    if row is not None and row.creditor_name:
        return row.creditor_name
    return current_app.config.get("CREDITOR_NAME") or ""


def save(session, name, register, creditor):
    """Create or change a portfolio's voice; returns (row, {field: (before, after)})."""
    name = (name or "").strip()
    if not name or len(name) > 64:
        raise ValueError("a portfolio needs a name of at most 64 characters")
    if register not in (None, "", *REGISTERS):
        raise ValueError(f"register must be one of {', '.join(REGISTERS)}")
    creditor = (creditor or "").strip()[:120] or None
    row = session.get(Portfolio, name)
    if row is None:
        row = Portfolio(name=name)
        session.add(row)
    changes = {}
    for field, value in (("register", register or None), ("creditor_name", creditor)):
        if getattr(row, field) != value:
            changes[field] = (getattr(row, field), value)
            setattr(row, field, value)
    return row, changes
