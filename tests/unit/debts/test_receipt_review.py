"""An agent confirms or rejects a receipt: confirming applies the payment through the same
reconciliation as any provider's, once, and the conversation leaves the queue when nothing else
waits."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import clock
from bot.debts import claims, receipt_review
from bot.models import Account, Conversation, Message, Payment, PaymentReceipt, StoredFile, User
from bot.payments import rails, receipts


@pytest.fixture
def agent(db):
    user = User(email="ana@example.com", password_hash="x", role="agent")
    db.add(user)
    db.commit()
    return user


@pytest.fixture
def receipt(db, conversation):
    """A pending receipt from Camila (DEMO-CO-001, COP 150 000.00), queued for agents."""
    message = Message(conversation_id=conversation.id, direction="in", body="", status="processed")
    stored = StoredFile(content_type="image/jpeg", size=3, sha256="0" * 64, data=b"\xff\xd8\xff")
    db.add_all([message, stored])
    db.flush()
    account = receipts.suggested_account(db, conversation.debtor_id)
    row = PaymentReceipt(
        message_id=message.id,
        media_index=0,
        conversation_id=conversation.id,
        debtor_id=conversation.debtor_id,
        account_id=account.id,
        file_id=stored.id,
        content_type="image/jpeg",
    )
    db.add(row)
    conversation.needs_agent, conversation.agent_reason = True, receipts.REASON
    conversation.escalated_at = clock.utcnow()
    db.commit()
    return row


def today(conversation):
    return clock.today_for(conversation.debtor)


def test_confirming_applies_the_payment_and_dequeues(db, receipt, agent, conversation):
    account = receipt.account
    payment = receipt_review.confirm(
        db, receipt, agent, account.id, "100000", today(conversation), "Nequi"
    )
    db.commit()
    assert (payment.provider, payment.provider_ref, payment.amount_minor) == (
        "receipt",
        f"receipt:{receipt.id}",
        10_000_000,
    )
    db.refresh(receipt)
    assert (receipt.status, receipt.resolved_by, receipt.method) == (
        "confirmed",
        f"agent:{agent.id}",
        "Nequi",
    )
    assert receipt.payment_id == payment.id
    assert db.get(Account, account.id).balance_minor == 5_000_000
    conv = db.get(Conversation, conversation.id)
    assert not conv.needs_agent and conv.agent_reason is None
    # The thank-you and the documents follow, as after any payment.
    assert db.execute(select(Message).where(Message.template_key == "payment.thanks")).first()


def test_two_agents_cannot_both_apply_it(db, receipt, agent, conversation):
    # The second agent's page loaded the receipt before the first one decided.
    other = Session(db.get_bind())
    stale = other.get(PaymentReceipt, receipt.id)
    receipt_review.confirm(db, receipt, agent, receipt.account_id, "100000", today(conversation))
    db.commit()
    with pytest.raises(receipt_review.ReviewError, match="someone else"):
        receipt_review.confirm(
            other, stale, other.get(User, agent.id), stale.account_id, "100000", today(conversation)
        )
    other.rollback()
    other.close()
    with pytest.raises(receipt_review.ReviewError, match="already decided"):
        receipt_review.confirm(
            db, receipt, agent, receipt.account_id, "100000", today(conversation)
        )
    db.rollback()
    assert db.execute(select(func.count(Payment.id))).scalar() == 1


@pytest.mark.parametrize(
    ("amount", "days", "message"),
    [
        ("cien mil", 0, "Amount"),
        ("100000.001", 0, "Amount"),
        ("0", 0, "more than zero"),
        ("100000", -1, "future"),
        ("100000", 400, "year"),
    ],
)
def test_bad_confirmations_are_refused(db, receipt, agent, conversation, amount, days, message):
    with pytest.raises(receipt_review.ReviewError, match=message):
        receipt_review.confirm(
            db, receipt, agent, receipt.account_id, amount, today(conversation) - timedelta(days)
        )
    db.rollback()
    assert db.get(PaymentReceipt, receipt.id).status == "pending"


def test_the_debt_is_found_by_reference_but_must_be_the_senders(
    db, receipt, agent, conversation, demo_debtors
):
    mine = receipt.account
    other = db.execute(select(Account).where(Account.external_id == "DEMO-MX-001")).scalar_one()
    for value in (mine.external_id, rails.payment_reference(mine)):
        assert receipt_review.find_account(db, receipt, value).id == mine.id
    with pytest.raises(receipt_review.ReviewError, match="not the sender's"):
        receipt_review.find_account(db, receipt, other.id)
    with pytest.raises(receipt_review.ReviewError, match="No debt"):
        receipt_review.find_account(db, receipt, "no-such-debt")


def test_an_open_already_paid_claim_is_settled_by_the_receipt(db, receipt, agent, conversation):
    claim = claims.claim_payment(
        db, conversation, today(conversation), 15_000_000, "ya pague", "debtor"
    )
    db.commit()
    assert receipt.account.status == "claim_review"
    receipt_review.confirm(db, receipt, agent, receipt.account_id, "150000", today(conversation))
    db.commit()
    db.refresh(claim)
    assert claim.status == "confirmed"
    account = db.get(Account, receipt.account_id)
    assert (account.status, account.balance_minor) == ("paid", 0)
    # Applied once: the claim did not become a second payment.
    assert db.execute(select(func.count(Payment.id))).scalar() == 1


def test_rejecting_needs_a_reason_and_applies_nothing(db, receipt, agent):
    with pytest.raises(receipt_review.ReviewError, match="why"):
        receipt_review.reject(db, receipt, agent, "  ")
    receipt_review.reject(db, receipt, agent, "Es una foto de la cédula, no un pago")
    db.commit()
    db.refresh(receipt)
    assert (receipt.status, receipt.reason) == ("rejected", "Es una foto de la cédula, no un pago")
    assert db.execute(select(Payment)).first() is None
    assert not db.get(Conversation, receipt.conversation_id).needs_agent


def test_the_conversation_stays_queued_while_a_receipt_waits_or_an_agent_holds_it(
    db, receipt, agent, conversation
):
    second = PaymentReceipt(
        message_id=receipt.message_id,
        media_index=1,
        conversation_id=conversation.id,
        debtor_id=conversation.debtor_id,
        status="unusable",
        problem="too_large",
    )
    db.add(second)
    db.commit()
    receipt_review.reject(db, receipt, agent, "duplicado")
    db.commit()
    assert db.get(Conversation, conversation.id).needs_agent
    conversation.state = "agent"
    db.commit()
    receipt_review.reject(db, second, agent, "ilegible")
    db.commit()
    assert db.get(Conversation, conversation.id).needs_agent  # the holder hands it back
