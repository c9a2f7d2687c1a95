"""What an agent resolves for a debtor, through the same services and policies as the bot."""

from datetime import timedelta

from flask import current_app
from sqlalchemy import update

from bot import audit, clock, statuses
from bot.conversations import handover
from bot.debts import accounts, plans, promises, settlements
from bot.debts.accounts import is_collectible
from bot.debts.policies import policy_for
from bot.models import Account, Dispute, PaymentClaim, Promise
from bot.money import money_var
from bot.payments import links
from bot.payments.reconcile import apply_payment, on_payment_applied
from bot.users import actor

MAX_ID = 2**31 - 1
MAX_INSTALLMENTS = 120  # even an admin override stays a plan someone can follow


def parse_id(value):
    """A database id from a form field, or None (never an exception)."""
    text = str(value or "").strip()
    if text.isascii() and text.isdigit() and 0 < int(text) <= MAX_ID:
        return int(text)
    return None


def _get(session, model, value):
    row_id = parse_id(value)
    return session.get(model, row_id) if row_id is not None else None


def _account(session, conversation, account_id):
    account = _get(session, Account, account_id)
    if account is None or account.debtor_id != conversation.debtor_id:
        raise handover.HandoverError("That debt is not this debtor's.")
    return account


def _require_override(user, reason, what):
    if user.role != "admin":
        raise handover.HandoverError(f"{what} Only an admin may override the policy.")
    if not handover.clean_text(reason):
        raise handover.HandoverError(f"{what} An override needs a reason.")


def send_payment_link(session, conversation, user, account_id):
    """Send the debtor a fresh signed payment link for one debt; return the message."""
    account = _account(session, conversation, account_id)
    if not is_collectible(account):
        raise handover.HandoverError("That debt has nothing to collect right now.")
    variables = {
        "amount": money_var(account.balance_minor, account.currency),
        "url": links.payment_url(account),
        "hours": current_app.config["PAY_LINK_TTL_HOURS"],
    }
    audit.record(session, actor(user), "payment_link.sent", account, {})
    return handover.agent_template(session, conversation, user, "payment.link", variables)


def record_promise(
    session, conversation, user, account_id, promised, override_reason="", amount_minor=None
):
    """A promise to pay on a date within the policy (all of the balance, or amount_minor); an
    admin may go beyond with a reason."""
    account = _account(session, conversation, account_id)
    if account.status not in statuses.Account.COLLECTIBLE:
        raise handover.HandoverError("Collection on that debt is paused.")
    today = clock.today_for(conversation.debtor)
    if promised < today:
        raise handover.HandoverError("The promised date is in the past.")
    latest = promises.latest_promise_date(session, account, today)
    overridden = promised > latest
    if overridden:
        _require_override(
            user, override_reason, f"The policy allows promises up to {latest.isoformat()}."
        )
    amount = account.balance_minor
    if amount_minor is not None and 0 < amount_minor < amount:
        least = policy_for(session, account, today).min_partial_minor or 1
        if amount_minor < least and not overridden:
            _require_override(
                user, override_reason, f"The policy's minimum partial payment is {least}."
            )
            overridden = True
        amount = amount_minor
    if promises.pending_promise(session, account, promised) is not None:
        raise handover.AlreadyDone("That promise is already recorded.")
    row = Promise(
        account_id=account.id,
        amount_minor=amount,
        promised_date=promised,
        created_by=actor(user),
    )
    session.add(row)
    audit.record(
        session,
        actor(user),
        "promise.recorded",
        account,
        {
            "promised_date": promised.isoformat(),
            "amount_minor": amount,
            "override_reason": handover.clean_text(override_reason)[:500] if overridden else None,
        },
    )
    return row


def create_plan(session, conversation, user, account_id, count, override_reason=""):
    """An installment plan with the policy's fee and schedule; beyond it only an admin."""
    account = _account(session, conversation, account_id)
    if account.status == statuses.Account.PLAN:
        raise handover.AlreadyDone("That debt is already on a plan.")
    if account.status != statuses.Account.OPEN:
        raise handover.HandoverError("Plans are for open debts without a plan.")
    if not plans.MIN_INSTALLMENTS <= count <= min(MAX_INSTALLMENTS, account.balance_minor):
        raise handover.HandoverError(
            f"A plan has between {plans.MIN_INSTALLMENTS} and {MAX_INSTALLMENTS} installments."
        )
    policy = policy_for(session, account)
    fitted, adjusted = plans.fit_count(account.balance_minor, policy, count=count)
    if adjusted:
        _require_override(
            user,
            override_reason,
            f"The policy allows {fitted} installments for this balance, not {count}.",
        )
    fee = plans.fee(account.balance_minor, policy)
    rows = plans.schedule(
        account.balance_minor + fee, count, policy, clock.today_for(conversation.debtor)
    )
    plan = plans.create_plan(session, account, rows, actor=actor(user), fee_minor=fee)
    if adjusted:
        audit.record(
            session,
            actor(user),
            "plan.policy_override",
            account,
            {
                "installments": count,
                "policy_allows": fitted,
                "reason": handover.clean_text(override_reason)[:500],
            },
        )
    return plan


def agree_settlement(
    session, conversation, user, account_id, amount_minor, pay_by, override_reason=""
):
    """A settlement: amount_minor paid by pay_by closes the account. Inside the policy's
    bounds any agent may agree it (audited with the policy version); beyond them (less than
    the lowest %, a later date, a debt not overdue enough or a policy without settlements)
    only an admin, with a reason."""
    account = _account(session, conversation, account_id)
    if not is_collectible(account):
        raise handover.HandoverError("Collection on that debt is paused or settled.")
    balance = account.balance_minor
    if not 0 < amount_minor < balance:
        raise handover.HandoverError("A settlement is for less than the balance, more than 0.")
    today = clock.today_for(conversation.debtor)
    if pay_by < today:
        raise handover.HandoverError("The settlement's date is in the past.")
    found = settlements.bounds(session, account, today)
    policy_allows = None
    if found is None:
        why = "The policy allows no settlement on this debt."
    else:
        policy, _pct, lowest = found
        latest = today + timedelta(days=policy.settlement_valid_days)
        floor = settlements.share(balance, lowest)
        policy_allows = {"min_amount_minor": floor, "latest": latest.isoformat()}
        why = None
        if amount_minor < floor or pay_by > latest:
            why = (
                f"The policy allows at least {lowest} % of the balance "
                f"({floor} minor units) by {latest.isoformat()}."
            )
    if why is not None:
        _require_override(user, override_reason, why)
    proposal = settlements.Offer(
        settlements.pct_of(amount_minor, balance),
        amount_minor,
        balance,
        pay_by,
        found[0].id if found is not None else None,
    )
    reason = handover.clean_text(override_reason)[:500] if why is not None else None
    return settlements.agree(
        session, account, proposal, actor(user), today, reason, policy_allows=policy_allows
    )


def _resume_status(account):
    if account.balance_minor <= 0:
        return statuses.Account.PAID
    if any(p.status == statuses.Plan.ACTIVE for p in account.plans):
        return statuses.Account.PLAN
    return statuses.Account.OPEN


def confirm_claim(session, conversation, user, claim_id):
    """The debtor's payment is found: apply it as any payment (installments in order,
    promises, reminders, the thank-you) and lift the pause on the debt."""
    claim = _claim(session, conversation, claim_id)
    _decide(session, PaymentClaim, claim, statuses.Claim.OPEN, statuses.Claim.CONFIRMED, user)
    account = accounts.lock(session, claim.account)
    account.status = _resume_status(account)  # out of claim_review before the money lands
    amount = min(claim.claimed_amount_minor or account.balance_minor, account.balance_minor)
    if amount > 0:
        payment = apply_payment(
            session, account, amount, "claim", f"claim:{claim.id}", actor=actor(user)
        )
        on_payment_applied(session, payment)
    audit.record(
        session,
        actor(user),
        "claim.confirmed",
        account,
        {"claim_id": claim.id, "amount_minor": amount, "status": account.status},
    )
    return claim


def reject_claim(session, conversation, user, claim_id):
    """No such payment was found: collection on the debt resumes."""
    claim = _claim(session, conversation, claim_id)
    _decide(session, PaymentClaim, claim, statuses.Claim.OPEN, statuses.Claim.REJECTED, user)
    account = accounts.lock(session, claim.account)
    account.status = _resume_status(account)
    audit.record(session, actor(user), "claim.rejected", account, {"claim_id": claim.id})
    return claim


def _claim(session, conversation, claim_id):
    claim = _get(session, PaymentClaim, claim_id)
    if claim is None or claim.account.debtor_id != conversation.debtor_id:
        raise handover.HandoverError("That claim is not this debtor's.")
    if claim.status != statuses.Claim.OPEN:
        raise handover.AlreadyDone(f"That claim is already {claim.status}.")
    return claim


def _decide(session, model, row, from_status, to_status, user):
    """One conditional UPDATE decides a claim or dispute: of two agents (or a double click)
    only one applies it; the other is told what was decided, never a second payment or a 500."""
    result = session.execute(
        update(model)
        .where(model.id == row.id, model.status == from_status)
        .values(status=to_status, resolved_by=actor(user))
        .execution_options(synchronize_session=False)
    )
    session.refresh(row)
    if result.rowcount != 1:
        what = "dispute" if model is Dispute else "claim"
        raise handover.AlreadyDone(f"That {what} is already {row.status}.")


def resolve_dispute(session, conversation, user, dispute_id, upheld):
    """Upheld: the debt is closed. Rejected: collection resumes."""
    dispute = _get(session, Dispute, dispute_id)
    if dispute is None or dispute.account.debtor_id != conversation.debtor_id:
        raise handover.HandoverError("That dispute is not this debtor's.")
    if dispute.status != statuses.Dispute.OPEN:
        raise handover.AlreadyDone(f"That dispute is already {dispute.status}.")
    decision = statuses.Dispute.UPHELD if upheld else statuses.Dispute.REJECTED
    _decide(session, Dispute, dispute, statuses.Dispute.OPEN, decision, user)
    account = accounts.lock(session, dispute.account)
    account.status = statuses.Account.CLOSED if upheld else _resume_status(account)
    audit.record(
        session,
        actor(user),
        "dispute.upheld" if upheld else "dispute.rejected",
        account,
        {"dispute_id": dispute.id, "status": account.status},
    )
    return dispute
