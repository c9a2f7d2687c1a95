"""Money that goes back: a provider refund or chargeback of a payment already applied.

The money left the creditor, so the debt is owed again, exactly as if that payment had not
been applied (history never changes: everything is undone by new entries):
- the payment's ledger entries are reversed (bot.ledger.entries.reverse, once each), and so are
  the pay-in-full discount it earned and the settlement write-off it completed;
- the settlement it counted toward is active again (or expired, when its date has passed), the
  installments it paid are due (or late) again, a completed plan is active again, a promise it
  kept is pending again (or broken, past its date), and a paid account is open (or on its
  plan) again;
- the payment is marked reversed, its receipt and the account's paz y salvo are revoked (their
  verification page says so), and the debtor's conversation joins the agents' queue;
  bot.hooks.payment_reversed announces it (a charged-back auto-debit suspends its mandate);
- every step is audited.

Only a reversal of the whole payment is applied: a partial refund (less than the payment) is
recorded and sent to the agents, who agree with the creditor how much is owed again (the ledger
cannot tell which installment, fee or discount the returned part belonged to). Providers report
the amount refunded so far, so a second refund that completes the first reverses the payment.

A refund can arrive before the payment it names (Stripe sends charge.refunded and
checkout.session.completed on separate deliveries): it waits in payment_events and is applied
right after that payment is (bot.payments.reconcile).
"""

import logging

from sqlalchemy import func, or_, select

from bot import audit, clock, hooks, statuses
from bot.clock import utcnow
from bot.conversations.escalation import mark_for_agent
from bot.ledger import entries
from bot.models import (
    Account,
    Conversation,
    Document,
    LedgerEntry,
    Payment,
    PaymentEvent,
    PaymentPlan,
    Promise,
    Settlement,
)

log = logging.getLogger(__name__)

REFUND, CHARGEBACK = "refund", "chargeback"
KINDS = {"refunded": REFUND, "charged_back": CHARGEBACK}
# The agents' queue reasons (bot.conversations.handover labels them).
AGENT_REASON = {REFUND: "refund", CHARGEBACK: "chargeback"}
WAITING = {REFUND: "waiting_refund", CHARGEBACK: "waiting_chargeback"}


def find_payment(session, provider, event):
    """The payment a refund or chargeback names: by the provider's payment reference (Mercado
    Pago's payment id, an auto-debit PaymentIntent) or the charge behind a checkout (Stripe)."""
    refs = {r for r in (event.payment_ref, event.ref) if r}
    if not refs:
        return None
    return session.execute(
        select(Payment)
        .where(
            Payment.provider == provider,
            or_(Payment.provider_ref.in_(refs), Payment.intent_ref.in_(refs)),
        )
        .order_by(Payment.id)
        .limit(1)
    ).scalar_one_or_none()


def wait(row, event):
    """Keep a refund whose payment has not arrived yet: applied when it does."""
    row.provider_ref = (event.payment_ref or event.ref or "")[:128] or None
    row.amount_minor = event.amount_minor
    row.outcome = WAITING[KINDS[event.kind]]
    log.info("%s %s waits for its payment", event.type, event.id)
    return row.outcome


def apply_waiting(session, payment):
    """Apply the refunds that arrived before this payment; returns the last outcome or None."""
    refs = [r for r in (payment.provider_ref, payment.intent_ref) if r]
    rows = (
        session.execute(
            select(PaymentEvent)
            .where(
                PaymentEvent.provider == payment.provider,
                PaymentEvent.provider_ref.in_(refs),
                PaymentEvent.outcome.in_(tuple(WAITING.values())),
            )
            .order_by(PaymentEvent.id)
        )
        .scalars()
        .all()
    )
    outcome = None
    for row in rows:
        kind = REFUND if row.outcome == WAITING[REFUND] else CHARGEBACK
        outcome = take_back(session, payment, kind, row.amount_minor, row.event_id)
        row.outcome = outcome
    return outcome


def take_back(session, payment, kind, amount_minor, event_id, actor=None):
    """A refund or chargeback of amount_minor (what the provider has returned of this payment so
    far; None: all of it). Returns the outcome recorded on the event."""
    actor = actor or f"provider:{payment.provider}"
    if payment.status == statuses.Payment.REVERSED:
        return "already_reversed"
    account = session.get(Account, payment.account_id, with_for_update=True)
    amount = payment.amount_minor if amount_minor is None else amount_minor
    if amount <= 0:
        return "ignored"
    if amount < payment.amount_minor:
        audit.record(
            session,
            actor,
            f"payment.partial_{kind}",
            account,
            {
                "payment_id": payment.id,
                "event_id": event_id,
                "returned_minor": amount,
                "amount_minor": payment.amount_minor,
                "why": "a partial reversal is decided by an agent: the ledger cannot tell "
                "which installment, fee or discount the returned part belonged to",
            },
        )
        _to_agents(session, account, kind)
        return f"partial_{kind}"
    reverse_payment(session, payment, kind, actor, event_id=event_id)
    return "reversed"


def reverse_payment(session, payment, kind, actor, event_id=None, today=None):
    """Undo an applied payment entirely (see the module's docstring); once only."""
    if payment.status == statuses.Payment.REVERSED:
        return False
    account = session.get(Account, payment.account_id, with_for_update=True)
    today = today or clock.today_for(account.debtor)
    memo = f"{kind} of payment {payment.id}"
    status_before = account.status
    undone = _reverse_entries(session, account, payment, memo, actor, today)
    applied = payment.amount_minor - (payment.surplus_minor or 0)
    settlement = _reopen_settlement(session, account, payment, applied, memo, actor, today)
    plan = _unapply_installments(
        session, account, payment, applied + (payment.discount_minor or 0), actor, today
    )
    payment.status = statuses.Payment.REVERSED
    if account.balance_minor > 0 and account.status in (
        statuses.Account.PAID,
        statuses.Account.OPEN,
    ):
        active = plan is not None and plan.status == statuses.Plan.ACTIVE
        account.status = statuses.Account.PLAN if active else statuses.Account.OPEN
    promises = _reopen_promises(session, account, actor, today)
    revoked = _revoke_documents(session, account, payment, kind)
    audit.record(
        session,
        actor,
        "payment.reversed",
        account,
        {
            "payment_id": payment.id,
            "kind": kind,
            "event_id": event_id,
            "amount_minor": payment.amount_minor,
            "entries_reversed": undone,
            "settlement_id": settlement.id if settlement is not None else None,
            "plan_id": plan.id if plan is not None else None,
            "promises_reopened": promises,
            "documents_revoked": revoked,
            "status_before": status_before,
            "status": account.status,
            "balance_minor": account.balance_minor,
        },
    )
    _to_agents(session, account, kind)
    for name in hooks.payment_reversed.send_guarded(session, payment, kind):
        audit.record(session, "system", "payment.hook_failed", payment, {"hook": name})
    return True


def _reverse_entries(session, account, payment, memo, actor, today):
    """Reverse the payment's entries and the discount it earned; returns the entry ids."""
    key = f"discount:{payment.id}"
    rows = (
        session.execute(
            select(LedgerEntry)
            .where(
                LedgerEntry.account_id == account.id,
                LedgerEntry.kind != statuses.Entry.REVERSAL,
                or_(
                    LedgerEntry.payment_id == payment.id,
                    LedgerEntry.key == key,
                    LedgerEntry.key.like(f"{key}:%"),
                ),
            )
            .order_by(LedgerEntry.id)
        )
        .scalars()
        .all()
    )
    done = []
    for entry in rows:
        if entry.bucket == statuses.Bucket.CREDIT and not _credit_holds(session, account, entry):
            # The surplus was already given back (an agent's refund): only the rest is owed.
            audit.record(
                session,
                actor,
                "payment.reversal_credit_short",
                account,
                {"payment_id": payment.id, "entry_id": entry.id},
            )
            continue
        if entries.reverse(session, entry, actor, memo, today=today):
            done.append(entry.id)
    return done


def _credit_holds(session, account, entry):
    held = -(entries.balance_of(session, account).credit_minor or 0)
    return held >= -entry.amount_minor


def _reopen_settlement(session, account, payment, applied, memo, actor, today):
    """The settlement this payment counted toward: its paid amount goes down, and one this
    payment completed is active again (its write-off reversed)."""
    settlement = session.execute(
        select(Settlement)
        .where(
            Settlement.account_id == account.id,
            Settlement.status.in_((statuses.Settlement.ACTIVE, statuses.Settlement.PAID)),
            Settlement.created_at <= payment.received_at,
        )
        .order_by(Settlement.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if settlement is None or applied <= 0 or settlement.paid_minor <= 0:
        return None
    settlement.paid_minor = max(settlement.paid_minor - applied, 0)
    if settlement.status != statuses.Settlement.PAID:
        return settlement
    if settlement.paid_minor >= settlement.amount_minor:
        return settlement  # paid without this payment too
    key = f"settlement:{settlement.id}"
    write_offs = (
        session.execute(
            select(LedgerEntry).where(
                LedgerEntry.account_id == account.id,
                or_(LedgerEntry.key == key, LedgerEntry.key.like(f"{key}:%")),
            )
        )
        .scalars()
        .all()
    )
    for entry in write_offs:
        entries.reverse(session, entry, actor, memo, today=today)
    late = today > settlement.pay_by
    settlement.status = statuses.Settlement.EXPIRED if late else statuses.Settlement.ACTIVE
    audit.record(
        session,
        actor,
        "settlement.reopened",
        account,
        {"settlement_id": settlement.id, "status": settlement.status, "payment_id": payment.id},
    )
    return settlement


def _unapply_installments(session, account, payment, amount, actor, today):
    """Take the payment back from the installments it filled (the last ones it paid first);
    returns the plan, or None."""
    plan = session.execute(
        select(PaymentPlan)
        .where(PaymentPlan.account_id == account.id, PaymentPlan.created_at <= payment.received_at)
        .order_by(PaymentPlan.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if plan is None or amount <= 0:
        return plan
    for installment in reversed(plan.installments):
        if amount <= 0:
            break
        part = min(installment.paid_minor, amount)
        if part <= 0:
            continue
        installment.paid_minor -= part
        amount -= part
        if installment.paid_minor < installment.amount_minor:
            late = installment.due_date < today
            installment.status = statuses.Installment.LATE if late else statuses.Installment.DUE
    if plan.status == statuses.Plan.COMPLETED and any(
        i.paid_minor < i.amount_minor for i in plan.installments
    ):
        plan.status = statuses.Plan.ACTIVE
        audit.record(session, actor, "plan.reopened", plan, {"payment_id": payment.id})
    return plan


def _reopen_promises(session, account, actor, today):
    """A promise kept only thanks to the reversed money is pending again (broken when its date
    has passed); returns their ids."""
    if account.status in statuses.Account.SETTLED:
        return []
    reopened = []
    kept = session.execute(
        select(Promise).where(
            Promise.account_id == account.id, Promise.status == statuses.Promise.KEPT
        )
    ).scalars()
    for promise in kept:
        paid_since = session.execute(
            select(func.coalesce(func.sum(Payment.amount_minor + Payment.discount_minor), 0)).where(
                Payment.account_id == account.id,
                Payment.received_at >= promise.created_at,
                Payment.status != statuses.Payment.REVERSED,
            )
        ).scalar()
        if paid_since >= promise.amount_minor:
            continue
        late = today > promise.promised_date
        promise.status = statuses.Promise.BROKEN if late else statuses.Promise.PENDING
        reopened.append(promise.id)
        audit.record(
            session,
            actor,
            "promise.reopened",
            account,
            {"promise_id": promise.id, "status": promise.status},
        )
    return reopened


def _revoke_documents(session, account, payment, kind):
    """The payment's receipt, and the paz y salvo when something is owed again: their
    verification page says they are void. A new paz y salvo can be issued on a later
    settlement (its dedupe key is freed)."""
    docs = (
        session.execute(
            select(Document).where(
                Document.account_id == account.id,
                Document.revoked_at.is_(None),
                or_(
                    Document.payment_id == payment.id,
                    Document.kind == "paz_y_salvo",
                ),
            )
        )
        .scalars()
        .all()
    )
    revoked = []
    for doc in docs:
        if doc.kind == "paz_y_salvo":
            if account.status in statuses.Account.SETTLED and account.balance_minor <= 0:
                continue
            doc.dedupe_key = f"{doc.dedupe_key}:revoked:{doc.id}"[:64]
        doc.revoked_at = utcnow()
        doc.revoked_reason = kind
        revoked.append(doc.id)
        audit.record(
            session,
            "system",
            "document.revoked",
            account,
            {"document_id": doc.id, "kind": doc.kind, "reason": kind},
        )
    return revoked


def _to_agents(session, account, kind):
    """The debtor's latest conversation joins the agents' queue: someone tells the debtor, and
    agrees a partial refund with the creditor."""
    conversation = session.execute(
        select(Conversation)
        .where(Conversation.debtor_id == account.debtor_id)
        .order_by(Conversation.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if conversation is not None:
        mark_for_agent(session, conversation, AGENT_REASON[kind])
