"""A photo or PDF of a payment receipt, sent by the debtor on WhatsApp, becomes a payment to
verify: the file is fetched from Twilio, checked and kept, the conversation joins the agents'
queue, and the debtor is told it will be checked. An agent confirms it (bot.debts.receipt_review
applies the payment) or rejects it.

A message's media are handled once (one receipt row per message and media index), so a retried
job neither stores a file twice nor answers twice.
"""

import logging

from sqlalchemy import select

from bot import audit, statuses
from bot.conversations.escalation import mark_for_agent
from bot.models import Account, PaymentReceipt
from bot.outbound.compose import Refused, queue_outbound
from bot.payments import media

log = logging.getLogger(__name__)
REASON = "receipt"  # the agents' queue reason
PENDING, CONFIRMED, REJECTED, UNUSABLE = "pending", "confirmed", "rejected", "unusable"
MAX_MEDIA = 10  # Twilio sends at most ten per message


def media_of(message):
    """The message's media as Twilio posted them: [{"url", "content_type"}]."""
    return [m for m in (message.media or []) if isinstance(m, dict) and m.get("url")][:MAX_MEDIA]


def suggested_account(session, debtor_id):
    """The debt a receipt most likely pays: the debtor's oldest one still owing."""
    if debtor_id is None:
        return None
    return session.execute(
        select(Account)
        .where(Account.debtor_id == debtor_id, Account.status.in_(statuses.Account.OWING))
        .order_by(Account.due_date, Account.id)
        .limit(1)
    ).scalar_one_or_none()


def receive(session, message, final_attempt=True):
    """Turn each medium of an inbound message into a receipt to verify, then answer once.

    Raises media.MediaUnavailable while Twilio cannot be reached and attempts are left (the
    job retries); on the final attempt the receipt is kept as unusable for an agent to see."""
    items = media_of(message)
    if not items:
        return []
    conversation = message.conversation
    done = {
        r.media_index: r
        for r in session.execute(
            select(PaymentReceipt).where(PaymentReceipt.message_id == message.id)
        ).scalars()
    }
    receipts = []
    for index, item in enumerate(items):
        if index in done:
            receipts.append(done[index])
            continue
        receipts.append(_receive_one(session, message, conversation, index, item, final_attempt))
    if len(done) < len(items):  # something new (a retried job has answered already)
        mark_for_agent(session, conversation, REASON)
        usable = any(r.status == PENDING for r in receipts)
        _answer(session, conversation, "receipt.received" if usable else "receipt.unusable")
    return receipts


def _receive_one(session, message, conversation, index, item, final_attempt):
    account = suggested_account(session, conversation.debtor_id)
    receipt = PaymentReceipt(
        message_id=message.id,
        media_index=index,
        conversation_id=conversation.id,
        debtor_id=conversation.debtor_id,
        account_id=account.id if account is not None else None,
        currency=account.currency if account is not None else None,
        content_type=(item.get("content_type") or "")[:64] or None,
    )
    try:
        data, content_type = media.fetch(item["url"], item.get("content_type"))
    except media.MediaRefused as exc:
        receipt.status, receipt.problem = UNUSABLE, str(exc)
    except media.MediaUnavailable as exc:
        if not final_attempt:
            raise
        log.error("receipt media of message %s could not be fetched: %s", message.id, exc)
        receipt.status, receipt.problem = UNUSABLE, "fetch_failed"
    else:
        receipt.file_id = media.store(session, data, content_type).id
        receipt.content_type = content_type
    session.add(receipt)
    session.flush()
    audit.record(
        session,
        "worker",
        "receipt.received",
        receipt,
        {"status": receipt.status, "problem": receipt.problem, "type": receipt.content_type},
    )
    return receipt


def _answer(session, conversation, key):
    """A short answer to the debtor's own message (it reveals nothing about any debt); none
    while an agent holds the conversation: the agent sees the receipt and speaks."""
    if conversation.state == statuses.Conversation.AGENT:
        return
    try:
        queue_outbound(session, conversation, key, {}, purpose="requested")
    except Refused as refused:
        audit.record(
            session,
            "system",
            "message.suppressed",
            conversation,
            {"template": key, "reason": refused.decision.reason},
        )


def pending(session, limit=200):
    """Receipts waiting for an agent, oldest first."""
    return (
        session.execute(
            select(PaymentReceipt)
            .where(PaymentReceipt.status == PENDING)
            .order_by(PaymentReceipt.id)
            .limit(limit)
        )
        .scalars()
        .all()
    )
