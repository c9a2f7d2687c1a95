"""Payment policies per portfolio, edited in the admin console; every change is audited.

A portfolio's policy is a series of versions with effective dates (bot.ledger.policy): a change
applies from its effective date only (today or later, never back), so interest and fees already
accrued keep the terms of their day. The bot's actions, the agents' console and the pay page
read the version in force on the debtor's today with `policy_for` on each request.
"""

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import permutations

from sqlalchemy import select

from bot import audit, clock, statuses, users
from bot.ledger import policy as versions
from bot.models import Account, AuditEvent, PaymentPolicy
from bot.models.money import EPOCH

_PORTFOLIO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    low: int = 0
    high: int = 0
    help: str = ""
    choices: tuple = ()  # ((value, label), ...): one of these instead of a number


ORDERS = tuple(",".join(order) for order in permutations(("fee", "interest", "principal")))


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
    Field(
        "allocation_order",
        "Payment allocation order",
        help="Which part of the balance a payment pays first.",
        choices=tuple((o, " → ".join(o.split(","))) for o in ORDERS),
    ),
    Field(
        "interest_rate_bps",
        "Interest, annual rate (basis points)",
        0,
        100_000,
        "Simple daily interest on overdue principal; 2400 = 24 % a year; 0 = none.",
    ),
    Field(
        "interest_max_rate_bps",
        "Interest, maximum annual rate (basis points)",
        0,
        100_000,
        "The legal cap (e.g. the usury rate): the rate charged is never above it; 0 = no cap.",
    ),
    Field(
        "interest_max_total_bps",
        "Interest, maximum total (basis points of the amount due)",
        0,
        1_000_000,
        "All interest ever charged stays under this share of the debt; 0 = no cap.",
    ),
    Field(
        "interest_basis",
        "Interest day count",
        choices=(
            (365, "365-day year"),
            (360, "360-day year"),
            (0, "actual days (366 in leap years)"),
        ),
    ),
    Field("interest_grace_days", "Interest grace days", 0, 365),
    Field(
        "min_partial_minor",
        "Minimum partial payment (minor units)",
        0,
        10**12,
        "The smallest amount a debtor may choose to pay; 0 = any amount.",
    ),
    Field(
        "settlement_offer_pct",
        "Settlement offered (% of the balance)",
        0,
        100,
        "Paying this share of the balance by the date closes the account; 0 = no settlements.",
    ),
    Field(
        "settlement_min_pct",
        "Settlement, lowest % a debtor may ask for",
        0,
        100,
        "At most the % offered; 0 = only the offer.",
    ),
    Field("settlement_valid_days", "Settlement valid for (days)", 0, 365),
    Field(
        "settlement_min_days_overdue",
        "Settlements only after (days overdue)",
        0,
        3650,
    ),
)
FIELD_NAMES = tuple(f.name for f in FIELDS)


class PolicyError(ValueError):
    """Form values that cannot be saved; errors maps a field name to its message."""

    def __init__(self, errors):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def all_policies(session, today=None):
    """The version in force today of each portfolio's policy (else its first, if all are
    still to come)."""
    today = today or clock.utcnow().date()
    portfolios = session.execute(
        select(PaymentPolicy.portfolio).distinct().order_by(PaymentPolicy.portfolio)
    ).scalars()
    return [get(session, name, today) for name in portfolios]


def pending_versions(session, portfolio, today=None):
    """Versions of a portfolio's policy that take effect after today."""
    today = today or clock.utcnow().date()
    return [v for v in versions.versions(session, portfolio) if v.effective_from > today]


def uncovered_portfolios(session):
    """Account segments with no policy of their own (they follow "default")."""
    segments = session.execute(
        select(Account.segment).where(Account.segment.is_not(None)).distinct()
    ).scalars()
    covered = set(session.execute(select(PaymentPolicy.portfolio)).scalars())
    return sorted(set(segments) - covered)


def get(session, portfolio, today=None):
    """The version of portfolio's policy in force today (its first when none is yet), or None."""
    found = versions.versions(session, portfolio)
    if not found:
        return None
    return versions.version_on(found, today or clock.utcnow().date()) or found[0]


def values_of(policy):
    """The editable values of a policy (defaults for a new one)."""
    values = {}
    for f in FIELDS:
        value = getattr(policy, f.name, None) if policy is not None else None
        if value is None:
            value = PaymentPolicy.__table__.c[f.name].default.arg
        values[f.name] = value
    return values


def parse(form, current=None):
    """Whole numbers within each field's range, or one of its choices; raises PolicyError
    naming every bad field. A field absent from the form keeps its current value."""
    values, errors = {}, {}
    current = current if current is not None else values_of(None)
    for f in FIELDS:
        if form.get(f.name) is None:
            values[f.name] = current[f.name]
            continue
        if f.choices:
            allowed = {str(value): value for value, _label in f.choices}
            raw = str(form.get(f.name)).strip()
            if raw not in allowed:
                errors[f.name] = f"{f.label}: pick one of the choices"
            else:
                values[f.name] = allowed[raw]
            continue
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
    if not errors and values["settlement_offer_pct"]:
        if not values["settlement_valid_days"]:
            errors["settlement_valid_days"] = "A settlement needs the days it stays valid"
        if values["settlement_min_pct"] > values["settlement_offer_pct"]:
            errors["settlement_min_pct"] = "The lowest settlement % is at most the % offered"
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


def parse_effective(text, today):
    """The effective date of a change: today when blank, never before today."""
    text = (text or "").strip()
    if not text:
        return today
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise PolicyError({"effective_from": "Effective from: a date as YYYY-MM-DD"}) from None
    if day < today:
        raise PolicyError(
            {"effective_from": f"Effective from: {today.isoformat()} or later (no changes back)"}
        )
    return day


def save(session, portfolio, values, user, effective_from=None, today=None):
    """Save portfolio's policy from effective_from (default today; never before today): the
    version starting that day is updated, else a new version starts then. Audits
    before/after of each changed field against the version it replaces.

    Returns (policy version, changes) with changes {field: [before, after]} ({} if nothing
    changed)."""
    portfolio = check_portfolio(portfolio)
    today = today or clock.utcnow().date()
    effective_from = effective_from or today
    if effective_from < today:
        raise PolicyError({"effective_from": "A policy change cannot take effect in the past"})
    found = versions.versions(session, portfolio)
    created = not found
    previous = versions.version_on(found, effective_from) if found else None
    if previous is not None and previous.effective_from == effective_from:
        policy = previous
    else:
        policy = PaymentPolicy(portfolio=portfolio, effective_from=effective_from)
        session.add(policy)
    before = {name: None for name in FIELD_NAMES} if created else values_of(previous or found[0])
    changes = {}
    for name in FIELD_NAMES:
        if before[name] != values[name]:
            changes[name] = [before[name], values[name]]
        setattr(policy, name, values[name])
    if not changes and policy is not previous:
        session.expunge(policy)  # the same terms from another day: no new version
        return previous or found[0], {}
    if changes:
        data = {"portfolio": portfolio, "changes": changes}
        if effective_from != EPOCH:
            data["effective_from"] = effective_from.isoformat()
        audit.record(
            session,
            users.actor(user),
            "policy.created" if created else "policy.updated",
            policy,
            data,
        )
    return policy, changes


def history(session, policy, limit=50):
    """The audited changes of every version of a portfolio's policy, newest first."""
    ids = [str(v.id) for v in versions.versions(session, policy.portfolio)] or [str(policy.id)]
    return (
        session.execute(
            select(AuditEvent)
            .where(
                AuditEvent.subject_type == PaymentPolicy.__tablename__,
                AuditEvent.subject_id.in_(ids),
            )
            .order_by(AuditEvent.id.desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )


def policy_for(session, account=None, on=None):
    """The version in force on day on (default: the debtor's today) of the account's
    portfolio's policy (its segment's), else the default portfolio's."""
    if on is None:
        on = clock.today_for(account.debtor) if account is not None else clock.utcnow().date()
    return versions.policy_on(session, account, on)


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


def offered_discount(session, account, today):
    """The pay-in-full discount the debtor was offered (audited discount.offered) and that still
    stands today, as discount_offer gives it; None when none was offered or it lapsed. A link
    asked for after the offer states this amount, not the full balance (issue 16)."""
    offer = discount_offer(session, account, today)
    if offer is None:
        return None
    last = session.execute(
        select(AuditEvent)
        .where(AuditEvent.action == "discount.offered")
        .where(AuditEvent.subject_type == Account.__tablename__)
        .where(AuditEvent.subject_id == str(account.id))
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if last is None or (last.data or {}).get("until", "") < today.isoformat():
        return None
    return offer
