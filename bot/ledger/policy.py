"""Which version of a payment policy applies to an account on a day.

A portfolio's policy is a series of versions, each effective from its date until the next
one's: a change reaches forward from its effective date only, so yesterday's interest keeps
yesterday's rate. An account follows its segment's portfolio when it has one, else "default".
"""

from sqlalchemy import select

from bot.models import PaymentPolicy
from bot.models.money import EPOCH

BUILT_IN = {"max_promise_days": 15, "max_deferral_days": 30}


def built_in():
    """The policy used when no portfolio has one (not stored)."""
    policy = PaymentPolicy(portfolio="default", effective_from=EPOCH, **BUILT_IN)
    for column in PaymentPolicy.__table__.columns:
        if getattr(policy, column.name) is None and column.default is not None:
            if not callable(column.default.arg):
                setattr(policy, column.name, column.default.arg)
    return policy


def portfolios_of(account):
    return [account.segment, "default"] if account is not None and account.segment else ["default"]


def versions(session, portfolio):
    """A portfolio's versions, oldest first."""
    return (
        session.execute(
            select(PaymentPolicy)
            .where(PaymentPolicy.portfolio == portfolio)
            .order_by(PaymentPolicy.effective_from)
        )
        .scalars()
        .all()
    )


def version_on(items, day):
    """The version among items (oldest first) in force on day; None before the first."""
    found = None
    for item in items:
        if item.effective_from <= day:
            found = item
        else:
            break
    return found


def merge(own, default):
    """The timeline of an account with its portfolio's versions own and the default's: the
    default's until its portfolio's first version, then its own; the built-in policy before
    any."""
    if own:
        line = [v for v in default if v.effective_from < own[0].effective_from] + list(own)
    else:
        line = list(default)
    if not line or line[0].effective_from > EPOCH:
        line.insert(0, built_in())
    return line


def timeline(session, account):
    """Every policy version that governs the account, oldest first (the first from EPOCH)."""
    names = portfolios_of(account)
    own = versions(session, names[0]) if len(names) > 1 else []
    return merge(own, versions(session, "default"))


def policy_on(session, account, day):
    """The policy version that applies to the account on day (the debtor's date)."""
    return version_on(timeline(session, account), day)
