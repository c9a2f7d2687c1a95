"""A photo or PDF of a payment, sent in the chat, is an already-paid claim: once the receipts
service has kept a usable file (bot.payments.receipts: fetched with the account's credentials,
size- and type-checked, stored, a payment to verify in the agents' queue), collection pauses on
the debt as for any "I already paid" until an agent decides. Confirming the receipt confirms the
claim (bot.debts.receipt_review)."""

from sqlalchemy import select

from bot.debts import claims
from bot.models import PaymentClaim
from bot.payments import receipts as receipt_service

CAPTION_LIMIT = 500


def claim_for_receipts(session, message, receipts):
    """An already-paid claim for a message whose receipts include a usable file (once per
    message); returns it, or None."""
    conversation = message.conversation
    usable = [r for r in receipts or [] if r.status == receipt_service.PENDING]
    if not usable or conversation.debtor_id is None:
        return None
    marker = f"[receipt {usable[0].id}]"
    done = session.execute(
        select(PaymentClaim.id).where(
            PaymentClaim.conversation_id == conversation.id,
            PaymentClaim.words.startswith(marker),
        )
    ).first()
    if done is not None:
        return None
    words = f"{marker} {(message.body or '').strip()[:CAPTION_LIMIT]}".strip()
    return claims.claim_payment(session, conversation, None, None, words, actor="debtor")
