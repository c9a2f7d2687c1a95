"""A photo or PDF of a payment, sent in the chat, becomes an already-paid claim: collection
pauses on the debt and an agent checks the file (its Twilio address and type are on the
message, shown in the conversation view). The turn has already told the debtor it will be
checked (bot.conversations.media).

Issue 13's receipts service (bot.payments.receipts.receive: the file fetched with the account's
credentials, size- and type-checked, stored and shown to the agent as a payment to verify) is
built on another branch; when it lands, the receive_media job calls it instead of this."""

from sqlalchemy import select

from bot import audit
from bot.conversations.escalation import mark_for_agent
from bot.debts import claims
from bot.models import PaymentClaim

CAPTION_LIMIT = 500


def receive(session, message):
    """Turn a message's payment proof into a claim on the debtor's oldest collectible debt
    (once per message); the conversation joins the agents' queue either way."""
    conversation = message.conversation
    marker = f"[receipt message {message.id}]"
    done = session.execute(
        select(PaymentClaim.id).where(
            PaymentClaim.conversation_id == conversation.id,
            PaymentClaim.words.startswith(marker),
        )
    ).first()
    if done is not None:
        return None
    words = f"{marker} {(message.body or '').strip()[:CAPTION_LIMIT]}".strip()
    claim = None
    if conversation.debtor_id is not None:
        claim = claims.claim_payment(session, conversation, None, None, words, actor="debtor")
    mark_for_agent(session, conversation, "receipt")
    audit.record(
        session,
        "debtor",
        "conversation.receipt_received",
        conversation,
        {
            "message_id": message.id,
            "claim_id": claim.id if claim is not None else None,
            "files": [m.get("content_type") for m in message.media or []],
        },
    )
    return claim
