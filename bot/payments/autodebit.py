"""Auto-debit: the debtor saves a card once (the provider's setup page, after agreeing to the
schedule shown on the pay page) and each installment is charged off-session on its due date.

Retries are ours: Stripe does not retry a declined off-session PaymentIntent (its Smart Retries
belong to Billing's invoices). A soft decline (insufficient funds, a generic decline) is tried
again AUTODEBIT_RETRY_DAYS after the due date (default 3 and 7); a failure only the debtor can
fix (the bank wants authentication, the card expired) suspends the auto-debit at once. Either
way, when no try is left the debtor gets a reminder with a payment link (through the contact
decision, so at an allowed hour). A charge is never made twice: each attempt is a row,
committed before the provider is asked, with an idempotency key of its own, so a job that dies
mid-charge asks again with the same key and gets the first answer.

The money goes through the same reconciliation as any payment (reconcile.handle_event with the
charge's PaymentIntent as the checkout reference): the provider's webhook about the same charge
is then a duplicate.
"""

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from bot import audit, clock, statuses
from bot.clock import utcnow
from bot.models import Account, AutodebitAttempt, AutodebitMandate, Checkout
from bot.money import money_var
from bot.payments import links, notify, providers
from bot.payments import reconcile as payments

log = logging.getLogger(__name__)
PENDING, ACTIVE, SUSPENDED, CANCELLED = "pending", "active", "suspended", "cancelled"
LIVE = (PENDING, ACTIVE, SUSPENDED)
CONSENT_VERSION = "autodebit-1"


class AutodebitError(ValueError):
    """Auto-debit cannot be set up now (the message says why, for the debtor's page)."""


def provider_name():
    """The provider that charges saved cards here, or None when auto-debit is off."""
    return current_app.config["AUTODEBIT_PROVIDER"]


def latest(session, account):
    """The account's mandate that is not cancelled, if any (newest first)."""
    return session.execute(
        select(AutodebitMandate)
        .where(AutodebitMandate.account_id == account.id, AutodebitMandate.status.in_(LIVE))
        .order_by(AutodebitMandate.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def card_label(mandate):
    return " ".join(p for p in ((mandate.brand or "").capitalize(), f"•••• {mandate.last4}") if p)


def schedule(session, account):
    """[(installment, amount left)] of the active plan still to pay, by due date: what the
    debtor agrees to have charged."""
    plan = payments.active_plan(session, account)
    if plan is None:
        return []
    return [
        (i, i.amount_minor - i.paid_minor)
        for i in plan.installments
        if i.paid_minor < i.amount_minor
    ]


def available(session, account):
    """True when the pay page may offer auto-debit for this account."""
    return (
        provider_name() is not None
        and account.status in statuses.Account.COLLECTIBLE
        and bool(schedule(session, account))
    )


def start(session, account, actor, success_url, cancel_url):
    """Record the debtor's consent and open the provider's page that saves a card; return its
    URL. The mandate is active once the provider says the card was saved (on_setup_completed)."""
    if not available(session, account):
        raise AutodebitError("not_available")
    current = latest(session, account)
    if current is not None and current.status == ACTIVE:
        raise AutodebitError("already_active")
    for abandoned in session.execute(
        select(AutodebitMandate).where(
            AutodebitMandate.account_id == account.id, AutodebitMandate.status == PENDING
        )
    ).scalars():
        # A card page left unfinished: the new one replaces it (a late completion changes nothing).
        abandoned.status, abandoned.cancelled_at, abandoned.cancelled_by = (
            CANCELLED,
            utcnow(),
            actor,
        )
    name = provider_name()
    rows = schedule(session, account)
    mandate = AutodebitMandate(
        account_id=account.id,
        provider=name,
        status=PENDING,
        consent={
            "version": CONSENT_VERSION,
            "at": utcnow().isoformat(timespec="seconds"),
            "by": actor,
            "currency": account.currency,
            "installments": [
                {"seq": i.seq, "due_date": i.due_date.isoformat(), "amount_minor": left}
                for i, left in rows
            ],
        },
    )
    session.add(mandate)
    session.flush()
    previous = session.execute(
        select(AutodebitMandate.customer_ref)
        .where(AutodebitMandate.account_id == account.id, AutodebitMandate.provider == name)
        .where(AutodebitMandate.customer_ref.isnot(None))
        .order_by(AutodebitMandate.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    customer_ref, created = providers.get(name).start_setup(
        mandate, account.currency, success_url, cancel_url, customer_ref=previous
    )
    mandate.customer_ref, mandate.setup_ref = customer_ref, created.ref
    audit.record(
        session, actor, "autodebit.requested", account, {"mandate_id": mandate.id, "provider": name}
    )
    return created.url


def on_setup_completed(session, provider, event):
    """The provider saved the debtor's card: the mandate becomes active (once). Returns the
    outcome for the webhook's answer."""
    mandate = session.execute(
        select(AutodebitMandate).where(
            AutodebitMandate.provider == provider, AutodebitMandate.setup_ref == event.ref
        )
    ).scalar_one_or_none()
    if mandate is None:
        log.warning("%s setup %s matches no auto-debit", provider, event.id)
        return "unknown_setup"
    if mandate.status != PENDING:
        return "duplicate_setup"
    saved = providers.get(provider).saved_method(event)
    account = session.get(Account, mandate.account_id)
    for other in session.execute(
        select(AutodebitMandate).where(
            AutodebitMandate.account_id == account.id,
            AutodebitMandate.status.in_((ACTIVE, SUSPENDED)),
            AutodebitMandate.id != mandate.id,
        )
    ).scalars():
        _end(session, other, CANCELLED, f"provider:{provider}")  # replaced by the new card
    mandate.status, mandate.activated_at = ACTIVE, utcnow()
    mandate.customer_ref = saved.customer_ref or mandate.customer_ref
    mandate.method_ref, mandate.brand, mandate.last4 = saved.method_ref, saved.brand, saved.last4
    audit.record(
        session,
        f"provider:{provider}",
        "autodebit.activated",
        account,
        {"mandate_id": mandate.id, "card": card_label(mandate)},
    )
    rows = schedule(session, account)
    if rows:
        installment, left = rows[0]
        notify.send_to_debtor(
            session,
            account.debtor,
            "autodebit.active",
            {
                "card": card_label(mandate),
                "amount": money_var(left, account.currency),
                "date": installment.due_date.isoformat(),
            },
            "receipt",
        )
    return "autodebit_active"


def _end(session, mandate, status, actor):
    mandate.status = status
    if status == CANCELLED:
        mandate.cancelled_at, mandate.cancelled_by = utcnow(), actor
    try:
        providers.get(mandate.provider).forget_method(mandate)
    except providers.ProviderError as exc:  # the mandate is what stops charges; logged
        log.warning("could not detach the card of mandate %s: %s", mandate.id, exc)


def cancel(session, account, actor):
    """The debtor (pay page or chat) stops auto-debit; no later charge is made. Returns what
    the bot says: (template key, variables)."""
    mandate = latest(session, account)
    if mandate is None:
        return "autodebit.none", {}
    _end(session, mandate, CANCELLED, actor)
    audit.record(session, actor, "autodebit.cancelled", account, {"mandate_id": mandate.id})
    return "autodebit.cancelled", {}


def describe(session, account):
    """What the bot says when the debtor asks about their auto-debit: (key, variables)."""
    mandate = latest(session, account)
    if mandate is None or mandate.status == PENDING:
        return "autodebit.none", {}
    if mandate.status == SUSPENDED:
        return "autodebit.suspended", {"url": links.payment_url(account)}
    rows = schedule(session, account)
    if not rows:
        return "autodebit.none", {}
    installment, left = rows[0]
    return "autodebit.status", {
        "card": card_label(mandate),
        "amount": money_var(left, account.currency),
        "date": installment.due_date.isoformat(),
    }


# -- the daily charge ---------------------------------------------------------------------------


def run(session, now=None):
    """Charge what is due on every active auto-debit and send the reminders owed for failed
    ones; idempotent, so the workers run it every AUTODEBIT_INTERVAL. Returns counts."""
    now = now or utcnow()
    report = {"charged": 0, "declined": 0, "needs_debtor": 0, "provider_down": 0, "notified": 0}
    ids = session.execute(
        select(AutodebitMandate.id)
        .where(AutodebitMandate.status.in_((ACTIVE, SUSPENDED)))
        .order_by(AutodebitMandate.id)
    ).scalars()
    for mandate_id in list(ids):
        try:
            _run_mandate(session, session.get(AutodebitMandate, mandate_id), now, report)
        except Exception:  # one account's trouble never stops the others
            session.rollback()
            log.exception("auto-debit of mandate %s failed", mandate_id)
    return report


def _run_mandate(session, mandate, now, report):
    account = session.get(Account, mandate.account_id)
    today = clock.today_for(account.debtor, now)
    local_hour = clock.aware(now, clock.debtor_zone(account.debtor)).hour
    for installment, _left in schedule(session, account):
        if installment.due_date > today:
            break
        attempts = (
            session.execute(
                select(AutodebitAttempt)
                .where(AutodebitAttempt.installment_id == installment.id)
                .order_by(AutodebitAttempt.attempt)
            )
            .scalars()
            .all()
        )
        step = next_step(attempts, installment.due_date, today, _retry_days())
        if step == "notify":
            _notify(session, mandate, account, installment, attempts[-1], now, report)
            return
        if step is None or mandate.status != ACTIVE:
            return  # wait: a retry day, a charge in flight, or a suspended card
        # From AUTODEBIT_FROM_HOUR local time: a thank-you never follows a charge made in the
        # middle of the debtor's night.
        from_hour = current_app.config["AUTODEBIT_FROM_HOUR"]
        if account.status not in statuses.Account.COLLECTIBLE or local_hour < from_hour:
            return
        outcome = _charge(session, mandate, account, installment, step, attempts)
        counted = "charged" if outcome == "succeeded" else outcome
        report[counted] = report.get(counted, 0) + 1
        if outcome != "succeeded":
            return  # one failure at a time; the next installment waits for this one


def _retry_days():
    return current_app.config["AUTODEBIT_RETRY_DAYS"]


def next_step(attempts, due_date, today, retry_days):
    """What to do for one installment: the attempt number to charge, "notify" (the reminder
    with a link is owed), or None (nothing now)."""
    if not attempts:
        return 1
    last = attempts[-1]
    if last.status in ("charging", "provider_down"):
        return last.attempt  # the same attempt, the same idempotency key
    if last.status == "declined":
        if last.attempt <= len(retry_days):
            return (
                last.attempt + 1
                if today >= due_date + timedelta(retry_days[last.attempt - 1])
                else None
            )
        return "notify" if last.notified_at is None else None
    if last.status == "needs_debtor":
        return "notify" if last.notified_at is None else None
    return None  # succeeded, or processing: the provider's webhook finishes it


def _charge(session, mandate, account, installment, number, attempts):
    attempt = next((a for a in attempts if a.attempt == number), None)
    amount = min(installment.amount_minor - installment.paid_minor, payments.owed(session, account))
    if attempt is None:
        checkout = Checkout(
            account_id=account.id,
            provider=mandate.provider,
            purpose="autodebit",
            amount_minor=amount,
            currency=account.currency,
            installment_id=installment.id,
            status=statuses.Checkout.OPEN,
        )
        session.add(checkout)
        session.flush()
        attempt = AutodebitAttempt(
            mandate_id=mandate.id,
            installment_id=installment.id,
            attempt=number,
            amount_minor=amount,
            currency=account.currency,
            checkout_id=checkout.id,
            status="charging",
        )
        session.add(attempt)
    # Committed before the provider is asked: a crash after the charge finds this attempt and
    # asks again with the same key, which answers without charging twice.
    session.commit()
    provider = providers.get(mandate.provider)
    charge = provider.charge(
        mandate,
        f"autodebit-{installment.id}-{number}",
        attempt.amount_minor,
        attempt.currency,
        {
            "installment_id": str(installment.id),
            "attempt": str(number),
            "checkout_id": str(attempt.checkout_id),
        },
    )
    checkout = session.get(Checkout, attempt.checkout_id)
    attempt.status, attempt.code, attempt.decline_code = (
        charge.outcome,
        charge.code,
        charge.decline_code,
    )
    if charge.ref:
        attempt.provider_ref = checkout.provider_ref = charge.ref
    audit.record(
        session,
        "system",
        "autodebit.charge",
        account,
        {
            "installment_id": installment.id,
            "attempt": number,
            "amount_minor": attempt.amount_minor,
            "outcome": charge.outcome,
            "code": charge.code,
            "decline_code": charge.decline_code,
        },
    )
    if charge.outcome == "succeeded":
        event = providers.Event(
            id=f"{charge.ref}:charged",
            type="autodebit.charged",
            kind="completed",
            ref=charge.ref,
            amount_minor=charge.amount_minor or attempt.amount_minor,
            currency=attempt.currency,
        )
        _outcome, payment = payments.handle_event(session, mandate.provider, event)
        if payment is not None:
            payments.on_payment_applied(session, payment)
    elif charge.outcome == "pending":
        checkout.status, attempt.status = statuses.Checkout.PROCESSING, "processing"
    elif charge.outcome in ("declined", "needs_debtor"):
        checkout.status = statuses.Checkout.FAILED
        if charge.outcome == "needs_debtor":
            mandate.status = SUSPENDED
            audit.record(
                session,
                "system",
                "autodebit.suspended",
                account,
                {"mandate_id": mandate.id, "code": charge.code},
            )
    session.commit()
    return charge.outcome


def _notify(session, mandate, account, installment, attempt, now, report):
    """The reminder with a link that replaces a failed charge (once; deferred to an allowed
    hour by the contact decision)."""
    variables = {
        "seq": installment.seq,
        "amount": money_var(installment.amount_minor - installment.paid_minor, account.currency),
        "card": card_label(mandate),
        "url": links.payment_url(account),
    }
    sent = notify.send_to_debtor(
        session, account.debtor, "autodebit.failed", variables, "reminder", now=now
    )
    reason = getattr(sent, "reason", None)
    if getattr(sent, "action", None) == "defer":
        session.commit()  # the next run tries again
        return
    attempt.notified_at = utcnow()
    attempt.notice = "sent" if reason is None else reason[:32]
    report["notified"] += reason is None
    session.commit()
