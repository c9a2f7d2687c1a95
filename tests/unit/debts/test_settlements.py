"""Settlements inside the policy's bounds, the debtor's counter-offer, agents' overrides,
and the account closed when the agreed amount lands by its date."""

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from bot import statuses, users
from bot.conversations import handover
from bot.debts import policies, resolutions, settlements
from bot.ledger import entries
from bot.ledger import settlement as ledger_settlement
from bot.models import Account, AuditEvent, LedgerEntry, Settlement
from bot.payments import reconcile

TODAY = date(2026, 12, 20)  # Camila's debt (due 2026-11-10) is 40 days overdue


@pytest.fixture
def camila(db, demo_debtors):
    return db.execute(select(Account).where(Account.external_id == "DEMO-CO-001")).scalar_one()


@pytest.fixture
def policy(db):
    row = policies.get(db, "default")
    row.settlement_offer_pct = 70
    row.settlement_min_pct = 50
    row.settlement_valid_days = 10
    row.settlement_min_days_overdue = 30
    db.commit()
    return row


def test_no_settlement_without_a_policy_that_allows_one(db, camila):
    assert settlements.offer(db, camila, TODAY) is None
    assert settlements.ask(db, camila, 7_500_000, TODAY) == ("none", None)


def test_the_bot_offers_the_policys_share_by_its_date(db, camila, policy):
    offer = settlements.propose(db, camila, TODAY)
    assert (offer.pct, offer.amount_minor, offer.until) == (70, 10_500_000, date(2026, 12, 30))
    assert offer.forgiven_minor == 4_500_000 and offer.policy_id == policy.id
    event = db.execute(
        select(AuditEvent).where(AuditEvent.action == "settlement.offered")
    ).scalar_one()
    assert event.data["policy_id"] == policy.id
    # Not on a debt overdue for less than the policy's days.
    assert settlements.offer(db, camila, date(2026, 11, 30)) is None


def test_the_debtor_may_ask_down_to_the_lowest_share(db, camila, policy):
    outcome, offer = settlements.ask(db, camila, 7_500_000, TODAY)  # half
    assert outcome == "accepted" and (offer.pct, offer.amount_minor) == (50, 7_500_000)
    outcome, offer = settlements.ask(db, camila, 5_000_000, TODAY)  # a third: too little
    assert outcome == "counter" and (offer.pct, offer.amount_minor) == (50, 7_500_000)
    assert settlements.ask(db, camila, 15_000_000, TODAY)[0] == "full"
    # Shares are rounded up: the creditor never gets less than the policy's %.
    assert settlements.share(10_001, 50) == 5_001


def test_an_agreed_settlement_closes_the_account_when_paid_by_its_date(db, camila, policy):
    _, offer = settlements.ask(db, camila, 7_500_000, TODAY)
    row = settlements.agree(db, camila, offer, "debtor:1", TODAY)
    db.commit()
    agreed = db.execute(
        select(AuditEvent).where(AuditEvent.action == "settlement.agreed")
    ).scalar_one()
    assert agreed.data["policy_id"] == policy.id and agreed.data["pct"] == 50
    assert reconcile.owed(db, camila) == 7_500_000
    reconcile.apply_payment(db, camila, 3_000_000, "manual", "p1", today=TODAY)
    assert row.status == statuses.Settlement.ACTIVE and camila.status == "open"
    reconcile.apply_payment(db, camila, 4_500_000, "manual", "p2", today=TODAY + timedelta(days=2))
    db.commit()
    assert row.status == statuses.Settlement.PAID and row.paid_minor == 7_500_000
    assert camila.balance_minor == 0 and camila.status == statuses.Account.PAID
    [write_off] = db.execute(select(LedgerEntry).where(LedgerEntry.kind == "write_off")).scalars()
    assert write_off.amount_minor == -7_500_000 and write_off.policy_id == policy.id
    assert entries.verify(db, [camila.id]) == []


def test_a_settlement_paid_after_its_date_expires_and_the_payment_counts_as_any(db, camila, policy):
    row = settlements.agree(db, camila, settlements.offer(db, camila, TODAY), "debtor:1", TODAY)
    db.commit()
    reconcile.apply_payment(db, camila, 10_500_000, "manual", "p1", today=date(2027, 1, 5))
    db.commit()
    assert row.status == statuses.Settlement.EXPIRED
    assert camila.balance_minor == 4_500_000 and camila.status == "open"


def test_settlements_past_their_date_expire_in_maintenance(db, camila, policy):
    row = settlements.agree(db, camila, settlements.offer(db, camila, TODAY), "debtor:1", TODAY)
    db.commit()
    assert ledger_settlement.expire_overdue(db, date(2026, 12, 30)) == 0
    assert ledger_settlement.expire_overdue(db, date(2026, 12, 31)) == 1
    assert row.status == statuses.Settlement.EXPIRED


def test_a_new_settlement_replaces_the_active_one(db, camila, policy):
    first = settlements.agree(db, camila, settlements.offer(db, camila, TODAY), "debtor:1", TODAY)
    _, offer = settlements.ask(db, camila, 8_000_000, TODAY)
    second = settlements.agree(db, camila, offer, "debtor:1", TODAY)
    db.commit()
    db.refresh(first)
    assert first.status == statuses.Settlement.CANCELLED
    assert settlements.active(db, camila) is second


@pytest.fixture
def people(db, conversation):
    agent, _ = users.create_user(db, "ana@example.com", "correct horse battery", "agent")
    admin, _ = users.create_user(db, "boss@example.com", "correct horse battery", "admin")
    db.commit()
    return agent, admin


def test_agents_agree_inside_the_policy_and_only_admins_beyond_it_with_a_reason(
    db, conversation, people, policy, travel
):
    agent, admin = people
    camila = db.execute(select(Account).where(Account.external_id == "DEMO-CO-001")).scalar_one()
    from bot import clock

    today = clock.today_for(camila.debtor)
    if (today - camila.due_date).days < 30:  # the policy's 30 days: move the clock on
        travel(days=30 - (today - camila.due_date).days)
        today = clock.today_for(camila.debtor)
    row = resolutions.agree_settlement(
        db, conversation, agent, camila.id, 8_000_000, today + timedelta(days=5)
    )
    assert row.policy_id == policy.id and row.override_reason is None
    with pytest.raises(handover.HandoverError, match="Only an admin"):
        resolutions.agree_settlement(
            db, conversation, agent, camila.id, 3_000_000, today + timedelta(days=5)
        )
    with pytest.raises(handover.HandoverError, match="needs a reason"):
        resolutions.agree_settlement(
            db, conversation, admin, camila.id, 3_000_000, today + timedelta(days=5)
        )
    row = resolutions.agree_settlement(
        db,
        conversation,
        admin,
        camila.id,
        3_000_000,
        today + timedelta(days=60),
        "hardship: lost job, approved by the manager",
    )
    db.commit()
    assert row.policy_id is None and row.override_reason.startswith("hardship")
    event = (
        db.execute(
            select(AuditEvent)
            .where(AuditEvent.action == "settlement.agreed")
            .order_by(AuditEvent.id.desc())
        )
        .scalars()
        .first()
    )
    assert event.data["override_reason"].startswith("hardship")
    assert event.data["policy_allows"]["min_amount_minor"] == 7_500_000
    with pytest.raises(handover.HandoverError, match="less than the balance"):
        resolutions.agree_settlement(
            db, conversation, admin, camila.id, 15_000_000, today + timedelta(days=5), "x"
        )
    assert db.execute(select(Settlement).where(Settlement.status == "active")).scalar_one() is row
