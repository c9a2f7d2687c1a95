import pytest

from bot.debts import policies


@pytest.fixture
def ledger_policy(db):
    """The default policy with interest (36.5 % a year) and a late fee after 3 days."""
    policy = policies.get(db, "default")
    policy.interest_rate_bps = 3650
    policy.late_fee_minor = 5_000
    policy.late_fee_grace_days = 3
    db.commit()
    return policy
