"""What a debtor says about a debt: it is not theirs or not right (dispute), or it is paid."""

from bot import audit
from bot.conversations.escalation import mark_for_agent
from bot.debts.accounts import collectible_accounts
from bot.models import Dispute, PaymentClaim


def open_dispute(session, conversation, words, actor):
    """Record the dispute with the debtor's words on every collectible account, pause
    collection on them and queue the conversation for an agent; return the disputes."""
    disputes = []
    for account in collectible_accounts(session, conversation.debtor_id):
        dispute = Dispute(account=account, conversation_id=conversation.id, words=words[:2000])
        session.add(dispute)
        account.status = "disputed"
        audit.record(session, actor, "account.disputed", account, {"status": "disputed"})
        disputes.append(dispute)
    mark_for_agent(session, conversation, "dispute")
    return disputes


def claim_payment(session, conversation, claimed_date, amount_minor, words, actor):
    """Record an "I already paid" claim on the oldest collectible account and pause reminders
    on it until an agent confirms or rejects the payment; return the claim (or None)."""
    accounts = collectible_accounts(session, conversation.debtor_id)
    if not accounts:
        return None
    account = accounts[0]
    claim = PaymentClaim(
        account=account,
        conversation_id=conversation.id,
        claimed_date=claimed_date,
        claimed_amount_minor=amount_minor,
        currency=account.currency,
        words=words[:2000],
    )
    session.add(claim)
    account.status = "claim_review"
    audit.record(
        session,
        actor,
        "account.payment_claimed",
        account,
        {
            "status": "claim_review",
            "claimed_date": claimed_date.isoformat() if claimed_date else None,
            "claimed_amount_minor": amount_minor,
        },
    )
    mark_for_agent(session, conversation, "already_paid")
    return claim
