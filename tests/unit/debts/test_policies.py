from datetime import date, timedelta

import pytest
from sqlalchemy import select

from bot import clock, users
from bot.debts import plans, policies, promises
from bot.models import Account, AuditEvent, PaymentPolicy

PASSWORD = "correct horse battery"


@pytest.fixture
def admin(db):
    user, _ = users.create_user(db, "boss@example.com", PASSWORD, "admin")
    db.commit()
    return user


def form(**overrides):
    values = {name: str(value) for name, value in policies.values_of(None).items()}
    values.update({k: str(v) for k, v in overrides.items()})
    return values


def test_parse_accepts_whole_numbers_in_range():
    values = policies.parse(form(max_installments=6, min_first_payment_minor="2_000_000"))
    assert values["max_installments"] == 6 and values["min_first_payment_minor"] == 2_000_000


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_installments", "1", "between 2 and 60"),
        ("min_first_payment_pct", "101", "between 0 and 100"),
        ("plan_fee_bps", "1.5", "whole number"),
        ("late_fee_minor", "-5", "whole number"),
        ("max_promise_days", "", "whole number"),
    ],
)
def test_parse_names_the_bad_field(field, value, message):
    with pytest.raises(policies.PolicyError) as info:
        policies.parse(form(**{field: value}))
    assert message in info.value.errors[field]


def test_a_discount_needs_its_validity():
    with pytest.raises(policies.PolicyError) as info:
        policies.parse(form(discount_max_pct=10, discount_valid_days=0))
    assert "days" in info.value.errors["discount_valid_days"]


def test_save_audits_each_change_with_before_and_after(db, admin, demo_debtors):
    account = db.execute(select(Account).where(Account.external_id == "DEMO-CO-001")).scalar_one()
    today = clock.today_for(account.debtor)  # a new version applies from today on
    assert promises.latest_promise_date(db, account, today) == today + timedelta(days=15)
    values = policies.parse(form(max_promise_days=20, late_fee_bps=200))
    policy, changes = policies.save(db, "demo", values, admin, today=today)
    db.commit()
    assert changes["max_promise_days"] == [None, 20]
    created = db.execute(
        select(AuditEvent).where(AuditEvent.action == "policy.created")
    ).scalar_one()
    assert created.actor == f"admin:{admin.id}" and created.subject_id == str(policy.id)
    # The bot reads the policy of the account's portfolio on its next turn.
    assert promises.latest_promise_date(db, account, today) == today + timedelta(days=20)

    values = policies.parse(form(max_promise_days=10, late_fee_bps=200))
    _policy, changes = policies.save(db, "demo", values, admin, today=today)
    db.commit()
    assert changes == {"max_promise_days": [20, 10]}
    updated = db.execute(
        select(AuditEvent).where(AuditEvent.action == "policy.updated")
    ).scalar_one()
    assert updated.data["portfolio"] == "demo"
    assert updated.data["changes"] == {"max_promise_days": [20, 10]}
    assert promises.latest_promise_date(db, account, today) == today + timedelta(days=10)
    # Saving the same values records nothing.
    assert policies.save(db, "demo", values, admin, today=today)[1] == {}


def test_portfolio_names_are_checked(db, admin):
    with pytest.raises(policies.PolicyError, match="letters, digits"):
        policies.save(db, "../x y", policies.parse(form()), admin)


def test_the_first_installment_honours_the_minimum_amount():
    policy = PaymentPolicy(
        portfolio="t", max_installments=12, min_first_payment_pct=10, min_first_payment_minor=500
    )
    rows = plans.schedule(1000, 4, policy, date(2026, 1, 1))
    assert [a for _, a in rows] == [502, 166, 166, 166]
    # The % wins when it is larger.
    policy.min_first_payment_pct = 60
    rows = plans.schedule(1000, 4, policy, date(2026, 1, 1))
    assert rows[0][1] >= 600 and sum(a for _, a in rows) == 1000
    # A minimum larger than the balance still leaves every installment something.
    policy.min_first_payment_minor = 5000
    rows = plans.schedule(1000, 4, policy, date(2026, 1, 1))
    assert [a for _, a in rows] == [997, 1, 1, 1]


@pytest.mark.parametrize(
    ("fixed", "bps", "grace", "overdue", "days", "expected"),
    [
        (0, 0, 0, 100_000, 10, 0),
        (5_000, 0, 3, 100_000, 3, 0),  # within the grace days
        (5_000, 0, 3, 100_000, 4, 5_000),
        (0, 150, 0, 100_001, 1, 1_501),  # rounded up to a minor unit
        (5_000, 200, 5, 100_000, 30, 7_000),
        (5_000, 200, 0, 0, 30, 0),  # nothing overdue, no fee
    ],
)
def test_late_fee(fixed, bps, grace, overdue, days, expected):
    policy = PaymentPolicy(late_fee_minor=fixed, late_fee_bps=bps, late_fee_grace_days=grace)
    assert plans.late_fee(overdue, days, policy) == expected


def test_a_change_applies_from_its_effective_date_only(db, admin, demo_debtors):
    today = date(2026, 11, 23)
    account = db.execute(select(Account).where(Account.external_id == "DEMO-CO-001")).scalar_one()
    values = policies.parse(form(interest_rate_bps=2400))
    later = today + timedelta(days=10)
    version, changes = policies.save(db, "default", values, admin, later, today)
    db.commit()
    assert changes == {"interest_rate_bps": [0, 2400]} and version.effective_from == later
    assert policies.policy_for(db, account, today).interest_rate_bps == 0
    assert policies.policy_for(db, account, later).interest_rate_bps == 2400
    assert policies.get(db, "default", today).interest_rate_bps == 0
    assert [v.effective_from for v in policies.pending_versions(db, "default", today)] == [later]
    # A pending version is edited in place; nothing reaches back before today.
    _version, changes = policies.save(
        db, "default", policies.parse(form(interest_rate_bps=2000)), admin, later, today
    )
    assert changes == {"interest_rate_bps": [2400, 2000]}
    with pytest.raises(policies.PolicyError):
        policies.parse_effective((today - timedelta(days=1)).isoformat(), today)
    with pytest.raises(policies.PolicyError):
        policies.parse_effective("soon", today)
    assert policies.parse_effective("", today) == today
    event = (
        db.execute(
            select(AuditEvent).where(AuditEvent.action == "policy.updated").order_by(AuditEvent.id)
        )
        .scalars()
        .first()
    )
    assert event.data["effective_from"] == later.isoformat()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("allocation_order", "principal,principal,fee", "pick one of the choices"),
        ("interest_basis", "366", "pick one of the choices"),
        ("interest_rate_bps", "-1", "whole number"),
    ],
)
def test_choices_and_rates_are_checked(field, value, message):
    with pytest.raises(policies.PolicyError) as info:
        policies.parse(form(**{field: value}))
    assert message in info.value.errors[field]


def test_a_settlement_needs_its_days_and_a_floor_under_the_offer():
    with pytest.raises(policies.PolicyError) as info:
        policies.parse(form(settlement_offer_pct=70, settlement_min_pct=80))
    assert set(info.value.errors) == {"settlement_valid_days", "settlement_min_pct"}
    values = policies.parse(
        form(settlement_offer_pct=70, settlement_min_pct=50, settlement_valid_days=7)
    )
    assert values["settlement_min_pct"] == 50 and values["allocation_order"] == (
        "fee,interest,principal"
    )


def test_a_form_without_the_new_fields_keeps_their_values():
    current = policies.values_of(None) | {"interest_rate_bps": 1800}
    partial_form = {k: v for k, v in form().items() if k != "interest_rate_bps"}
    assert policies.parse(partial_form, current)["interest_rate_bps"] == 1800
