"""Payment policies per portfolio, edited in the admin console; every change is audited.

The bot's actions, the agents' console and the pay page read them with `policy_for` on each
request, so a change applies to the next conversation turn.
"""

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select

from bot import audit, statuses, users
from bot.models import Account, AuditEvent, PaymentPolicy

_PORTFOLIO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    low: int
    high: int
    help: str = ""


# Amounts are in minor units (cents) of the accounts' currency: a portfolio holds one currency.
FIELDS = (
    Field("max_installments", "Maximum installments", 2, 60),
    Field("min_first_payment_pct", "Minimum first payment (% of the balance)", 0, 100),
    Field(
        "min_first_payment_minor",
        "Minimum first payment (amount, minor units)",
        0,
        10**12,
        "The first installment is at least the larger of the % and this amount; 0 = none.",
    ),
    Field(
        "min_installment_minor",
        "Minimum installment amount (minor units)",
        0,
        10**12,
        "Fewer installments are offered when they would be smaller; 0 = none.",
    ),
    Field("plan_fee_bps", "Plan fee (basis points of the balance)", 0, 5000, "150 = 1.5 %."),
    Field("max_promise_days", "Maximum days to a promise to pay", 0, 365),
    Field("max_deferral_days", "Maximum deferral days (asking for more time)", 0, 365),
    Field("discount_max_pct", "Pay-in-full discount, maximum %", 0, 100),
    Field("discount_valid_days", "Pay-in-full discount valid for (days)", 0, 365),
    Field(
        "late_fee_minor",
        "Late fee, fixed amount (minor units)",
        0,
        10**12,
        "Charged once on an installment overdue by more than the grace days.",
    ),
    Field("late_fee_bps", "Late fee (basis points of the overdue amount)", 0, 5000),
    Field("late_fee_grace_days", "Late fee grace days", 0, 90),
)
FIELD_NAMES = tuple(f.name for f in FIELDS)


class PolicyError(ValueError):
    """Form values that cannot be saved; errors maps a field name to its message."""

    def __init__(self, errors):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def all_policies(session):
    return session.execute(select(PaymentPolicy).order_by(PaymentPolicy.portfolio)).scalars().all()


def uncovered_portfolios(session):
    """Account segments with no policy of their own (they follow "default")."""
    segments = session.execute(
        select(Account.segment).where(Account.segment.is_not(None)).distinct()
    ).scalars()
    covered = set(session.execute(select(PaymentPolicy.portfolio)).scalars())
    return sorted(set(segments) - covered)


def get(session, portfolio):
    return session.execute(
        select(PaymentPolicy).where(PaymentPolicy.portfolio == portfolio)
    ).scalar_one_or_none()


def values_of(policy):
    """The editable values of a policy (defaults for a new one)."""
    values = {}
    for f in FIELDS:
        value = getattr(policy, f.name, None) if policy is not None else None
        if value is None:
            value = PaymentPolicy.__table__.c[f.name].default.arg
        values[f.name] = value
    return values


def parse(form):
    """Whole numbers within each field's range; raises PolicyError naming every bad field."""
    values, errors = {}, {}
    for f in FIELDS:
        raw = (form.get(f.name) or "").strip().replace("_", "")
        if not re.fullmatch(r"\d+", raw):
            errors[f.name] = f"{f.label}: enter a whole number"
            continue
        value = int(raw)
        if not f.low <= value <= f.high:
            errors[f.name] = f"{f.label}: must be between {f.low} and {f.high}"
            continue
        values[f.name] = value
    if not errors and values["discount_max_pct"] and not values["discount_valid_days"]:
        errors["discount_valid_days"] = (
            "A pay-in-full discount needs the number of days it stays valid"
        )
    if errors:
        raise PolicyError(errors)
    return values


def check_portfolio(name):
    name = (name or "").strip()
    if not _PORTFOLIO.match(name):
        raise PolicyError(
            {"portfolio": "Portfolio: letters, digits, '.', '_' or '-', up to 64 characters"}
        )
    return name


def save(session, portfolio, values, user):
    """Create or update the policy of portfolio; audit before/after of each changed field.

    Returns (policy, changes) with changes {field: [before, after]} ({} if nothing changed)."""
    portfolio = check_portfolio(portfolio)
    policy = get(session, portfolio)
    created = policy is None
    if created:
        policy = PaymentPolicy(portfolio=portfolio)
        session.add(policy)
    before = {name: None for name in FIELD_NAMES} if created else values_of(policy)
    changes = {}
    for name in FIELD_NAMES:
        if before[name] != values[name]:
            changes[name] = [before[name], values[name]]
        setattr(policy, name, values[name])
    if changes:
        audit.record(
            session,
            users.actor(user),
            "policy.created" if created else "policy.updated",
            policy,
            {"portfolio": portfolio, "changes": changes},
        )
    return policy, changes


def history(session, policy, limit=50):
    """The audited changes of a policy, newest first."""
    return (
        session.execute(
            select(AuditEvent)
            .where(
                AuditEvent.subject_type == PaymentPolicy.__tablename__,
                AuditEvent.subject_id == str(policy.id),
            )
            .order_by(AuditEvent.id.desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )


def policy_for(session, account=None):
    """The policy of the account's portfolio (its segment), else the default one."""
    names = [account.segment, "default"] if account is not None and account.segment else ["default"]
    for name in names:
        policy = session.execute(
            select(PaymentPolicy).where(PaymentPolicy.portfolio == name)
        ).scalar_one_or_none()
        if policy is not None:
            return policy
    return PaymentPolicy(portfolio="default", max_promise_days=15, max_deferral_days=30)


def discounted(balance_minor, pct):
    """The amount to pay after pct percent off, rounded half up to a minor unit."""
    off = (Decimal(balance_minor) * Decimal(pct) / 100).quantize(Decimal(1), ROUND_HALF_UP)
    return balance_minor - int(off)


def discount_offer(session, account, today):
    """(pct, amount_minor, until) when the policy allows a pay-in-full discount on an account
    without a plan, else None: the offer the bot makes in chat (actions/offers.py)."""
    policy = policy_for(session, account)
    if account.status not in statuses.Account.COLLECTIBLE or not policy.discount_max_pct:
        return None
    if not policy.discount_valid_days:
        return None
    amount = discounted(account.balance_minor, policy.discount_max_pct)
    return policy.discount_max_pct, amount, today + timedelta(days=policy.discount_valid_days)
