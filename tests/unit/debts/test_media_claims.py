from types import SimpleNamespace

from sqlalchemy import select

from bot.debts import media_claims
from bot.models import Account, Message, PaymentClaim
from bot.payments import receipts


def test_a_usable_receipt_is_an_already_paid_claim_once(db, conversation):
    message = Message(
        conversation_id=conversation.id, direction="in", body="ya pagué", status="processed"
    )
    db.add(message)
    db.flush()
    usable = SimpleNamespace(id=41, status=receipts.PENDING)
    claim = media_claims.claim_for_receipts(db, message, [usable])
    db.commit()
    assert claim.words == "[receipt 41] ya pagué"
    assert db.get(Account, claim.account_id).status == "claim_review"  # reminders pause
    assert media_claims.claim_for_receipts(db, message, [usable]) is None  # a retried job
    unusable = SimpleNamespace(id=42, status=receipts.UNUSABLE)
    assert media_claims.claim_for_receipts(db, message, [unusable]) is None
    assert len(db.execute(select(PaymentClaim)).scalars().all()) == 1
