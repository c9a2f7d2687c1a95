"""Provider events processed once, and money applied to what the debtor owes.

Reconciliation rules (amounts in minor units of the account's currency; every amount that
changes a balance is a ledger entry, bot.ledger):
- a provider event is stored once by (provider, event id): a redelivery changes nothing;
- a checkout is paid once (payments are unique by provider and checkout reference), so two
  different events about the same checkout (completed, then async_payment_succeeded) apply once;
- a payment first brings interest and late fees up to the debtor's today, then is shared
  between fees, interest and principal in the policy's allocation order, and fills the active
  plan's installments in order; what exceeds everything owed is the debtor's credit (also on the
  payment as surplus_minor, for a refund);
- a pay-in-full discount checkout that is paid settles the balance with a discount entry; a
  payment that completes an agreed settlement by its date writes off the rest;
- money received is always applied, even when the checkout had expired meanwhile (events can
  arrive out of order); an 'expired' or 'failed' event never undoes a completed checkout;
- the account is 'paid' when nothing is owed; pending promises are kept (paid by their date) or
  broken (paid late); every change is audited.

After a payment is applied, on_payment_applied announces it (bot.hooks.payment_applied): the
thank-you and the reminders it made pointless are handled by their own domains.
"""

import logging

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot import audit, clock, hooks, statuses
from bot.clock import utcnow
from bot.ledger import daily, entries
from bot.ledger import settlement as ledger_settlement
from bot.ledger.policy import policy_on
from bot.models import Account, Checkout, Payment, PaymentEvent, PaymentPlan, Promise

log = logging.getLogger(__name__)


def active_plan(session, account):
    return session.execute(
        select(PaymentPlan)
        .where(PaymentPlan.account_id == account.id, PaymentPlan.status == statuses.Plan.ACTIVE)
        .order_by(PaymentPlan.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def plan_remaining(plan):
    return sum(max(i.amount_minor - i.paid_minor, 0) for i in plan.installments)


def next_installment(plan):
    """The first installment not fully paid, or None."""
    for installment in plan.installments:
        if installment.paid_minor < installment.amount_minor:
            return installment
    return None


def owed(session, account):
    """What settles the account now: what remains of an agreed settlement, else the balance
    (which holds a plan's fee, interest and late fees)."""
    agreed = ledger_settlement.active(session, account)
    if agreed is not None:
        return min(ledger_settlement.remaining(agreed), account.balance_minor)
    return account.balance_minor


def handle_event(session, provider, event):
    """Process one verified provider event once. Returns (outcome, payment or None).

    The caller commits, then delivers the messages on_payment_applied returned."""
    seen = session.execute(
        select(PaymentEvent).where(
            PaymentEvent.provider == provider, PaymentEvent.event_id == event.id
        )
    ).scalar_one_or_none()
    if seen is not None:
        return "duplicate_event", None
    row = PaymentEvent(
        provider=provider, event_id=event.id, type=event.type, provider_ref=event.ref, outcome="new"
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # the same event raced in on another request
        session.rollback()
        return "duplicate_event", None
    checkout = None
    if event.ref:
        checkout = session.execute(
            select(Checkout).where(
                Checkout.provider == provider, Checkout.provider_ref == event.ref
            )
        ).scalar_one_or_none()
    payment = None
    if event.kind == "other":
        row.outcome = "ignored"
    elif checkout is None:
        row.outcome = "unknown_checkout"
        log.warning("%s event %s for an unknown checkout", provider, event.id)
    elif event.kind == "completed":
        row.outcome, payment = _complete(session, provider, checkout, event)
    elif event.kind == "pending":
        if checkout.status in ("open", "expired"):
            checkout.status = "processing"
        row.outcome = "pending"
    else:  # expired / failed: only an unpaid checkout moves; a late one never undoes a payment
        if checkout.status in ("open", "processing"):
            checkout.status = event.kind
            row.outcome = event.kind
        else:
            row.outcome = "stale"
    return row.outcome, payment


def _complete(session, provider, checkout, event):
    # One payment per provider payment: a checkout may take several (Mercado Pago), else the
    # checkout's own reference names its one payment.
    ref = event.payment_ref or event.ref
    already = session.execute(
        select(Payment).where(Payment.provider == provider, Payment.provider_ref == ref)
    ).scalar_one_or_none()
    if already is not None:
        return "duplicate_payment", None
    account = session.get(Account, checkout.account_id, with_for_update=True)
    currency = (event.currency or checkout.currency).upper()
    if currency != account.currency:
        # Never convert silently: an agent decides; the event stays recorded.
        note = {"currency": currency, "amount_minor": event.amount_minor}
        audit.record(session, f"provider:{provider}", "payment.currency_mismatch", account, note)
        return "currency_mismatch", None
    if not event.amount_minor:  # e.g. a 100 % coupon at the provider: nothing was received
        checkout.status = "completed"
        audit.record(session, f"provider:{provider}", "checkout.completed_unpaid", checkout, {})
        return "nothing_received", None
    was = checkout.status
    checkout.status = "completed"
    payment = apply_payment(
        session,
        account,
        event.amount_minor,
        provider=provider,
        provider_ref=ref,
        checkout=checkout,
        actor=f"provider:{provider}",
    )
    if was == "expired":
        audit.record(session, f"provider:{provider}", "checkout.paid_after_expiry", checkout, {})
    return "applied", payment


def apply_payment(
    session,
    account,
    amount_minor,
    provider,
    provider_ref,
    checkout=None,
    actor="system",
    today=None,
):
    """Record a payment and apply it: the ledger first (interest and fees accrued to today,
    then the payment shared between fees, interest and principal in the policy's order, what
    exceeds the debt held as the debtor's credit, a paid discount or settlement written off),
    then installments in order, plan and account status, promises. Returns the Payment (not
    yet committed)."""
    if amount_minor is None or amount_minor <= 0:
        raise ValueError("a payment must be a positive amount of minor units")
    today = today or clock.today_for(account.debtor)
    account_id = account.id
    daily.accrue_account(session, account, today)
    account = session.get(Account, account_id)
    if checkout is not None:
        checkout = session.get(Checkout, checkout.id)
    balance = entries.balance_of(session, account, today)
    plan = active_plan(session, account)
    owed_before = account.balance_minor
    discount = 0
    if checkout is not None and checkout.purpose == "discount":
        # The page offered the balance for checkout.amount_minor: paying it settles everything.
        if amount_minor >= checkout.amount_minor:
            discount = max(owed_before - amount_minor, 0)
    applied = min(amount_minor, owed_before)
    surplus = amount_minor - applied
    payment = Payment(
        account_id=account.id,
        amount_minor=amount_minor,
        currency=account.currency,
        provider=provider,
        provider_ref=provider_ref,
        checkout_id=checkout.id if checkout is not None else None,
        surplus_minor=surplus,
        discount_minor=discount,
        received_at=utcnow(),
    )
    session.add(payment)
    session.flush()
    order = entries.parse_order(policy_on(session, account, today).allocation_order)
    parts, _left = entries.allocate(applied, entries.owing(balance), order)
    parts = {bucket: -part for bucket, part in parts.items()}
    if surplus:
        parts[statuses.Bucket.CREDIT] = -surplus
    key = f"payment:{payment.id}"
    entries.post(
        session, account, statuses.Entry.PAYMENT, parts, today, actor, key=key, payment=payment
    )
    if discount:
        entries.write_off(
            session,
            account,
            actor,
            "pay-in-full discount",
            kind=statuses.Entry.DISCOUNT,
            key=f"discount:{payment.id}",
            today=today,
        )
    if plan is not None:
        _apply_to_installments(session, plan, applied + discount, actor)
    settled = ledger_settlement.on_payment(session, account, applied, today, actor)
    if account.balance_minor == 0 and (
        plan is None or plan.status == statuses.Plan.COMPLETED or settled is not None
    ):
        account.status = statuses.Account.PAID
    elif plan is not None and plan.status == statuses.Plan.COMPLETED:
        account.status = statuses.Account.OPEN  # the plan is done; fees or interest remain
    audit.record(
        session,
        actor,
        "payment.applied",
        account,
        {
            "payment_id": payment.id,
            "amount_minor": amount_minor,
            "applied_minor": applied,
            "allocation": {bucket: -part for bucket, part in parts.items()},
            "surplus_minor": surplus,
            "discount_minor": discount,
            "balance_before_minor": owed_before,
            "balance_minor": account.balance_minor,
            "status": account.status,
        },
    )
    if surplus:
        log.warning("payment %s exceeds what account %s owed", payment.id, account.id)
        audit.record(session, actor, "payment.surplus", payment, {"surplus_minor": surplus})
    _settle_promises(session, account, payment, today, actor)
    return payment


def _apply_to_installments(session, plan, amount, actor):
    for installment in plan.installments:
        if amount <= 0:
            break
        due = installment.amount_minor - installment.paid_minor
        if due <= 0:
            continue
        part = min(due, amount)
        installment.paid_minor += part
        amount -= part
        if installment.paid_minor >= installment.amount_minor:
            installment.status = statuses.Installment.PAID
    if all(i.paid_minor >= i.amount_minor for i in plan.installments):
        plan.status = statuses.Plan.COMPLETED
        audit.record(session, actor, "plan.completed", plan, {})


def _settle_promises(session, account, payment, today, actor):
    """Kept when what was paid since the promise covers it by its date; broken when late."""
    pending = session.execute(
        select(Promise).where(Promise.account_id == account.id, Promise.status == "pending")
    ).scalars()
    for promise in pending:
        paid_since = session.execute(
            select(func.coalesce(func.sum(Payment.amount_minor + Payment.discount_minor), 0)).where(
                Payment.account_id == account.id, Payment.received_at >= promise.created_at
            )
        ).scalar()
        covered = paid_since >= promise.amount_minor or account.status == "paid"
        if today > promise.promised_date:
            promise.status = "broken"
        elif covered:
            promise.status = "kept"
        else:
            continue
        audit.record(
            session,
            actor,
            f"promise.{promise.status}",
            account,
            {"promise_id": promise.id, "paid_since_minor": int(paid_since)},
        )


def on_payment_applied(session, payment):
    """Announce a just-applied payment inside its transaction (bot.hooks.payment_applied): a
    receiver that fails is logged and audited, never undoing the money received."""
    for name in hooks.payment_applied.send_guarded(session, payment):
        audit.record(session, "system", "payment.hook_failed", payment, {"hook": name})
