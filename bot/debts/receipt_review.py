"""An agent checks a receipt the debtor sent (a photo or PDF of a transfer): confirming it applies
the payment like any other (installments, promises, reminders, the thank-you, the PDF receipt);
rejecting it records why. Any agent may decide, holding the conversation or not; one conditional
UPDATE makes sure two agents never both apply the same receipt."""

from datetime import date

from sqlalchemy import select, update

from bot import audit, clock, statuses
from bot.clock import utcnow
from bot.conversations import handover
from bot.conversations.escalation import unmark_for_agent
from bot.debts.resolutions import parse_id
from bot.models import Account, PaymentClaim, PaymentReceipt
from bot.money import MoneyError, parse_minor
from bot.payments import rails, receipts
from bot.payments.reconcile import apply_payment, on_payment_applied
from bot.users import actor

MAX_DAYS_BACK = 366


class ReviewError(ValueError):
    """A decision that cannot be recorded as asked (the message says why)."""


def find_account(session, receipt, value):
    """The debt a receipt pays: an account id of the sender's, or (for an unknown number) the
    creditor's reference or our payment reference."""
    text = str(value or "").strip()
    account = None
    account_id = parse_id(text)
    if account_id is not None:
        account = session.get(Account, account_id)
    if account is None and text:
        account = session.execute(
            select(Account).where(Account.external_id == text)
        ).scalar_one_or_none()
    if account is None:
        by_reference = rails.account_id_from_reference(text)
        account = session.get(Account, by_reference) if by_reference else None
    if account is None:
        raise ReviewError("No debt matches that account or reference.")
    if receipt.debtor_id is not None and account.debtor_id != receipt.debtor_id:
        raise ReviewError("That debt is not the sender's.")
    return account


def _claim_receipt(session, receipt, status, user):
    """Move the receipt out of 'pending' for this agent only (False: someone else did first)."""
    result = session.execute(
        update(PaymentReceipt)
        .where(PaymentReceipt.id == receipt.id, PaymentReceipt.status == receipts.PENDING)
        .values(status=status, resolved_by=actor(user), resolved_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise ReviewError("This receipt was already decided by someone else.")
    session.refresh(receipt)


def confirm(session, receipt, user, account_value, amount_text, paid_on, method=""):
    """Apply the payment the receipt shows; returns the Payment."""
    if receipt.status != receipts.PENDING:
        raise ReviewError("This receipt was already decided.")
    account = find_account(session, receipt, account_value)
    try:
        amount = parse_minor(str(amount_text or "").replace(",", ""), account.currency)
    except MoneyError as exc:
        raise ReviewError(f"Amount: {exc}.") from None
    if amount <= 0:
        raise ReviewError("The amount must be more than zero.")
    today = clock.today_for(account.debtor)
    if not isinstance(paid_on, date) or paid_on > today:
        raise ReviewError("The payment date must be a date, not in the future.")
    if (today - paid_on).days > MAX_DAYS_BACK:
        raise ReviewError("The payment date is more than a year ago.")
    _claim_receipt(session, receipt, receipts.CONFIRMED, user)
    who = actor(user)
    # An "I already paid" claim on the debt is this payment: settled with it, never applied
    # a second time, and the debt's pause lifted before the money lands.
    for claim in session.execute(
        select(PaymentClaim).where(
            PaymentClaim.account_id == account.id, PaymentClaim.status == statuses.Claim.OPEN
        )
    ).scalars():
        claim.status, claim.resolved_by = statuses.Claim.CONFIRMED, who
        audit.record(
            session,
            who,
            "claim.confirmed_by_receipt",
            account,
            {"claim_id": claim.id, "receipt_id": receipt.id},
        )
    if account.status == statuses.Account.CLAIM_REVIEW:
        account.status = (
            statuses.Account.PLAN
            if any(p.status == statuses.Plan.ACTIVE for p in account.plans)
            else statuses.Account.OPEN
        )
    receipt.account_id, receipt.amount_minor, receipt.currency = (
        account.id,
        amount,
        account.currency,
    )
    receipt.paid_on, receipt.method = paid_on, handover.clean_text(method)[:64] or None
    payment = apply_payment(
        session, account, amount, "receipt", f"receipt:{receipt.id}", actor=who, today=today
    )
    receipt.payment_id = payment.id
    on_payment_applied(session, payment)
    audit.record(
        session,
        who,
        "receipt.confirmed",
        receipt,
        {
            "account_id": account.id,
            "amount_minor": amount,
            "paid_on": paid_on.isoformat(),
            "payment_id": payment.id,
        },
    )
    _done(session, receipt, who)
    return payment


def reject(session, receipt, user, reason):
    """Not a payment to apply (not a receipt, a duplicate, unreadable): record why."""
    reason = handover.clean_text(reason)
    if not reason:
        raise ReviewError("Say why the receipt is rejected.")
    if receipt.status != receipts.PENDING and receipt.status != receipts.UNUSABLE:
        raise ReviewError("This receipt was already decided.")
    if receipt.status == receipts.PENDING:
        _claim_receipt(session, receipt, receipts.REJECTED, user)
    else:
        receipt.status, receipt.resolved_by, receipt.resolved_at = (
            receipts.REJECTED,
            actor(user),
            utcnow(),
        )
    receipt.reason = reason[:500]
    audit.record(session, actor(user), "receipt.rejected", receipt, {"reason": receipt.reason})
    _done(session, receipt, actor(user))
    return receipt


def _done(session, receipt, who):
    """The conversation leaves the queue when it was there only for receipts now decided."""
    left = session.execute(
        select(PaymentReceipt.id).where(
            PaymentReceipt.conversation_id == receipt.conversation_id,
            PaymentReceipt.status.in_((receipts.PENDING, receipts.UNUSABLE)),
        )
    ).first()
    if left is None:
        unmark_for_agent(session, receipt.conversation, receipts.REASON, who)
