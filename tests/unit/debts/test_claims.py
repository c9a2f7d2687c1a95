from datetime import date

from sqlalchemy import select

from bot.debts import claims
from bot.debts.accounts import balance_messages, collectible_accounts
from bot.models import Account, AuditEvent, Dispute, PaymentClaim


def test_dispute_pauses_collection_and_keeps_the_words(db, conversation):
    [dispute] = claims.open_dispute(db, conversation, "esa deuda no es mia", actor="debtor")
    db.commit()
    assert dispute.words == "esa deuda no es mia" and dispute.status == "open"
    assert dispute.account.status == "disputed"
    assert conversation.needs_agent and conversation.agent_reason == "dispute"
    actions = db.execute(select(AuditEvent.action)).scalars().all()
    assert "account.disputed" in actions
    # The balance still tells what is owed; nothing collectible is left for reminders.
    [message] = balance_messages(db, conversation.debtor_id, date(2026, 11, 30))
    assert message["template"].startswith("balance.")
    assert collectible_accounts(db, conversation.debtor_id) == []


def test_payment_claim_pauses_reminders_until_checked(db, conversation):
    claim = claims.claim_payment(
        db, conversation, date(2026, 11, 20), 15_000_000, "ya pague", actor="debtor"
    )
    db.commit()
    assert (claim.claimed_amount_minor, claim.currency) == (15_000_000, "COP")
    assert claim.account.status == "claim_review"
    assert conversation.agent_reason == "already_paid"
    assert db.execute(select(PaymentClaim)).scalar_one().claimed_date == date(2026, 11, 20)


def test_unknown_date_and_amount_are_kept_as_unknown(db, conversation):
    claim = claims.claim_payment(db, conversation, None, None, "ya pague", actor="debtor")
    db.commit()
    assert claim.claimed_date is None and claim.claimed_amount_minor is None


def test_nothing_to_claim_on(db, conversation):
    for account in db.execute(select(Account)).scalars():
        account.status = "paid"
    db.commit()
    assert claims.claim_payment(db, conversation, None, None, "x", actor="debtor") is None
    assert claims.open_dispute(db, conversation, "x", actor="debtor") == []
    assert db.execute(select(Dispute)).first() is None
