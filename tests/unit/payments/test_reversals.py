"""Refunds and chargebacks: a payment the provider took back is undone in the ledger, once,
whatever order its events arrive in; what it had closed is open again and its documents void."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot import clock, statuses
from bot.debts import plans, settlements
from bot.ledger import entries
from bot.models import (
    Account,
    AuditEvent,
    Document,
    LedgerEntry,
    PaymentEvent,
    PaymentPolicy,
    Promise,
)
from bot.payments import documents, reversals
from bot.payments import reconcile as payments
from bot.payments.providers import Event


@pytest.fixture
def camila(db, conversation):
    """DEMO-CO-001: COP 150 000.00 (15 000 000 minor units), status open, on WhatsApp."""
    return db.execute(select(Account).where(Account.external_id == "DEMO-CO-001")).scalar_one()


def checkout(db, account, amount, ref="cs_1", purpose="full"):
    from tests.unit.payments.test_reconcile import make_checkout

    return make_checkout(db, account, amount, purpose=purpose, ref=ref)


def paid(amount, ref="cs_1", event_id="evt_paid", intent="pi_1"):
    return Event(
        id=event_id,
        type="checkout.session.completed",
        kind="completed",
        ref=ref,
        amount_minor=amount,
        currency="COP",
        extra={"intent": intent},
    )


def taken_back(amount, kind="refunded", intent="pi_1", event_id="evt_back"):
    """What Stripe's charge.refunded / charge.dispute.created reduce to: the PaymentIntent."""
    return Event(
        id=event_id,
        type="charge.refunded" if kind == "refunded" else "charge.dispute.created",
        kind=kind,
        ref=intent,
        amount_minor=amount,
        currency="COP",
        payment_ref=intent,
    )


def actions(db):
    return db.execute(select(AuditEvent.action)).scalars().all()


def test_a_full_refund_reopens_the_account_and_voids_its_documents(
    app, client, db, camila, conversation
):
    checkout(db, camila, 15_000_000)
    outcome, payment = payments.handle_event(db, "sandbox", paid(15_000_000))
    assert outcome == "applied" and payment.intent_ref == "pi_1"
    db.commit()
    receipt = documents.receipt_for(db, payment)
    paz = documents.paz_y_salvo_for(db, camila)
    db.commit()
    assert camila.status == "paid" and paz is not None

    assert payments.handle_event(db, "sandbox", taken_back(15_000_000)) == ("reversed", None)
    db.commit()
    db.expire_all()
    account = db.get(Account, camila.id)
    assert (account.balance_minor, account.status) == (15_000_000, "open")
    assert payment.status == statuses.Payment.REVERSED
    reversed_ = db.execute(
        select(LedgerEntry).where(LedgerEntry.kind == statuses.Entry.REVERSAL)
    ).scalars()
    assert sum(e.amount_minor for e in reversed_) == 15_000_000
    assert entries.verify(db, [camila.id]) == []
    assert {"payment.reversed", "account.reopened", "document.revoked"} <= set(actions(db))
    assert conversation.agent_reason == "refund"
    # Both documents are void: the page says so, and they are no longer listed or downloadable.
    for doc in (receipt, paz):
        page = client.get(documents.verify_url(doc).split("bot.example.test")[1])
        assert page.status_code == 200 and 'data-genuine="revoked"' in page.get_data(as_text=True)
    assert documents.for_account(db, account) == []
    assert documents.paz_y_salvo_for(db, account) is None
    # Settled again later: a new paz y salvo with its own number; the old one stays void.
    checkout(db, account, 15_000_000, ref="cs_2")
    payments.handle_event(db, "sandbox", paid(15_000_000, "cs_2", "evt_paid_2", "pi_2"))
    db.commit()
    again = documents.paz_y_salvo_for(db, account)
    assert again.id != paz.id and again.number == f"{paz.number}-2" and again.revoked_at is None


def test_a_chargeback_on_a_plan_reopens_the_installments_and_the_plan(db, camila, conversation):
    policy = db.execute(select(PaymentPolicy).where(PaymentPolicy.portfolio == "default")).one()[0]
    today = clock.today_for(camila.debtor)
    plan = plans.create_plan(
        db, camila, plans.schedule(camila.balance_minor, 3, policy, today), actor="debtor"
    )
    db.commit()
    first = plan.installments[0].amount_minor
    checkout(db, camila, first, purpose="installment")
    payments.handle_event(db, "sandbox", paid(first))
    db.commit()
    assert plan.installments[0].status == statuses.Installment.PAID

    outcome, _ = payments.handle_event(db, "sandbox", taken_back(first, "charged_back"))
    db.commit()
    assert outcome == "reversed"
    assert plan.installments[0].paid_minor == 0
    assert plan.installments[0].status == statuses.Installment.DUE
    assert plan.status == statuses.Plan.ACTIVE and camila.status == statuses.Account.PLAN
    assert camila.balance_minor == plan.total_minor
    assert conversation.agent_reason == "chargeback"
    assert entries.verify(db, [camila.id]) == []


def test_replayed_and_repeated_refunds_change_nothing(db, camila):
    checkout(db, camila, 5_000_000)
    payments.handle_event(db, "sandbox", paid(5_000_000))
    assert payments.handle_event(db, "sandbox", taken_back(5_000_000))[0] == "reversed"
    db.commit()
    count = db.execute(select(LedgerEntry)).scalars().all()
    assert payments.handle_event(db, "sandbox", taken_back(5_000_000)) == (
        "duplicate_event",
        None,
    )
    # The dispute of a refunded charge, and a second refund event: the payment is already undone.
    dispute = taken_back(5_000_000, "charged_back", event_id="evt_dispute")
    assert payments.handle_event(db, "sandbox", dispute)[0] == "already_reversed"
    db.commit()
    assert db.execute(select(LedgerEntry)).scalars().all() == count
    assert camila.balance_minor == 15_000_000
    assert actions(db).count("payment.reversed") == 1


def test_a_refund_before_its_payment_waits_for_it(db, camila, conversation):
    conversation.last_inbound_at = clock.utcnow()
    checkout(db, camila, 15_000_000)
    assert payments.handle_event(db, "sandbox", taken_back(15_000_000)) == (
        "waiting_refund",
        None,
    )
    db.commit()
    assert camila.balance_minor == 15_000_000
    # The completion arrives: applied, then undone at once, and nobody is thanked.
    assert payments.handle_event(db, "sandbox", paid(15_000_000)) == ("reversed_on_arrival", None)
    db.commit()
    assert (camila.balance_minor, camila.status) == (15_000_000, "open")
    assert entries.verify(db, [camila.id]) == []
    outcomes = db.execute(select(PaymentEvent.outcome).order_by(PaymentEvent.id)).scalars().all()
    assert outcomes == ["reversed", "reversed_on_arrival"]
    assert not [job for job, _ in db.info.get("outbox", []) if job == "deliver_outbound"]


def test_a_partial_refund_goes_to_the_agents_until_it_is_whole(db, camila, conversation):
    checkout(db, camila, 10_000_000)
    _, payment = payments.handle_event(db, "sandbox", paid(10_000_000))
    outcome, _ = payments.handle_event(db, "sandbox", taken_back(4_000_000))
    db.commit()
    assert outcome == "partial_refund"
    assert payment.status == statuses.Payment.SUCCEEDED and camila.balance_minor == 5_000_000
    [note] = db.execute(
        select(AuditEvent).where(AuditEvent.action == "payment.partial_refund")
    ).scalars()
    assert note.data["returned_minor"] == 4_000_000 and "agent" in note.data["why"]
    assert conversation.needs_agent
    # Providers count every refund so far: the rest refunded makes it whole, then it is undone.
    whole = taken_back(10_000_000, event_id="evt_back_2")
    assert payments.handle_event(db, "sandbox", whole)[0] == "reversed"
    db.commit()
    assert camila.balance_minor == 15_000_000


def test_a_refunded_discount_owes_the_discount_again(db, camila):
    db.add(PaymentPolicy(portfolio="demo", discount_max_pct=10, discount_valid_days=5))
    db.commit()
    checkout(db, camila, 13_500_000, purpose="discount")
    payments.handle_event(db, "sandbox", paid(13_500_000))
    db.commit()
    assert camila.balance_minor == 0
    payments.handle_event(db, "sandbox", taken_back(13_500_000))
    db.commit()
    assert (camila.balance_minor, camila.status) == (15_000_000, "open")
    assert entries.verify(db, [camila.id]) == []


def test_a_refunded_settlement_payment_reopens_the_settlement(db, camila):
    today = clock.today_for(camila.debtor)
    offer = settlements.Offer(50, 7_500_000, 15_000_000, today + timedelta(days=5), None)
    row = settlements.agree(db, camila, offer, "agent:1", today, override_reason="test")
    promise = Promise(
        account_id=camila.id, amount_minor=7_500_000, promised_date=today, created_by="debtor"
    )
    db.add(promise)
    db.commit()
    checkout(db, camila, 7_500_000)
    payments.handle_event(db, "sandbox", paid(7_500_000))
    db.commit()
    assert row.status == statuses.Settlement.PAID and camila.status == "paid"
    assert promise.status == statuses.Promise.KEPT

    payments.handle_event(db, "sandbox", taken_back(7_500_000))
    db.commit()
    assert row.status == statuses.Settlement.ACTIVE and row.paid_minor == 0
    assert (camila.balance_minor, camila.status) == (15_000_000, "open")
    assert payments.owed(db, camila) == 7_500_000  # the agreed amount still closes it
    assert promise.status == statuses.Promise.PENDING
    assert entries.verify(db, [camila.id]) == []


def test_a_refund_of_an_unknown_payment_only_waits(db, camila):
    outcome, _ = payments.handle_event(db, "sandbox", taken_back(1, intent="pi_nobody"))
    db.commit()
    assert outcome == "waiting_refund" and camila.balance_minor == 15_000_000
    row = db.execute(select(PaymentEvent)).scalar_one()
    assert (row.provider_ref, row.amount_minor) == ("pi_nobody", 1)


def test_documents_of_a_reversed_payment_are_never_issued(db, camila):
    checkout(db, camila, 15_000_000)
    _, payment = payments.handle_event(db, "sandbox", paid(15_000_000))
    reversals.reverse_payment(db, payment, reversals.REFUND, "agent:1")
    db.commit()
    assert documents.issue_after_payment(db, payment) == []
    assert db.execute(select(Document)).first() is None


def test_a_charged_back_auto_debit_suspends_its_mandate(db, camila, conversation):
    from bot.models import AutodebitMandate

    mandate = AutodebitMandate(account_id=camila.id, provider="sandbox", status="active")
    db.add(mandate)
    checkout(db, camila, 5_000_000, ref="pi_auto", purpose="autodebit")
    payments.handle_event(db, "sandbox", paid(5_000_000, ref="pi_auto", intent=None))
    refund = taken_back(5_000_000, intent="pi_auto")
    assert payments.handle_event(db, "sandbox", refund)[0] == "reversed"
    assert mandate.status == "active"  # the creditor refunded it: the card is fine
    db.rollback()
    payments.handle_event(db, "sandbox", paid(5_000_000, ref="pi_auto", intent=None))
    dispute = taken_back(5_000_000, "charged_back", intent="pi_auto")
    assert payments.handle_event(db, "sandbox", dispute)[0] == "reversed"
    db.commit()
    assert mandate.status == "suspended"
    assert "autodebit.suspended" in actions(db)
