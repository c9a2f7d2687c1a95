"""Settlements: a share of the balance, paid by a date, closes the account; the rest is
written off (bot.ledger.settlement does it when the money lands).

Inside the policy's bounds (settlement_offer_pct, down to settlement_min_pct when the debtor
asks; valid settlement_valid_days; on debts overdue settlement_min_days_overdue or more) the bot
offers and the debtor may accept on the pay page; an agreement records the policy version that
allowed it. Agents may go beyond the bounds only as an admin, with a reason
(bot.debts.resolutions.agree_settlement).
"""

from dataclasses import dataclass
from datetime import date, timedelta

from bot import audit, statuses
from bot.debts.accounts import days_overdue, is_collectible
from bot.debts.policies import policy_for
from bot.ledger import settlement as ledger_settlement
from bot.models import Settlement
from bot.money import money_var


@dataclass(frozen=True)
class Offer:
    pct: int
    amount_minor: int
    balance_minor: int
    until: date
    policy_id: int | None

    @property
    def forgiven_minor(self):
        return self.balance_minor - self.amount_minor

    def variables(self, currency):
        return {
            "amount": money_var(self.amount_minor, currency),
            "pct": self.pct,
            "balance": money_var(self.balance_minor, currency),
            "forgiven": money_var(self.forgiven_minor, currency),
            "until": self.until.isoformat(),
        }


def share(balance_minor, pct):
    """pct % of the balance, rounded up to a minor unit (the creditor never gets less)."""
    return -(-balance_minor * pct // 100)


def pct_of(amount_minor, balance_minor):
    """amount as a whole % of the balance, rounded up."""
    return -(-amount_minor * 100 // balance_minor) if balance_minor else 100


def bounds(session, account, today):
    """(policy, offer pct, lowest pct) when the policy allows a settlement on this account
    today, else None."""
    if not is_collectible(account):
        return None
    policy = policy_for(session, account, today)
    offer_pct = policy.settlement_offer_pct or 0
    if not offer_pct or not policy.settlement_valid_days:
        return None
    if days_overdue(account, today) < (policy.settlement_min_days_overdue or 0):
        return None
    lowest = policy.settlement_min_pct or offer_pct
    return policy, offer_pct, min(lowest, offer_pct)


def offer(session, account, today):
    """The settlement the bot proposes (the policy's offer), or None."""
    found = bounds(session, account, today)
    if found is None:
        return None
    policy, pct, _lowest = found
    balance = account.balance_minor
    return Offer(
        pct,
        share(balance, pct),
        balance,
        today + timedelta(days=policy.settlement_valid_days),
        policy.id,
    )


def ask(session, account, amount_minor, today):
    """The debtor names what they can pay to close the account: ("accepted", Offer for that
    amount) inside the bounds, ("counter", the lowest Offer) below them, or ("none", None)."""
    found = bounds(session, account, today)
    if found is None:
        return "none", None
    policy, _pct, lowest = found
    balance = account.balance_minor
    until = today + timedelta(days=policy.settlement_valid_days)
    floor = share(balance, lowest)
    if amount_minor >= balance:
        return "full", None
    if amount_minor < floor:
        return "counter", Offer(lowest, floor, balance, until, policy.id)
    return "accepted", Offer(pct_of(amount_minor, balance), amount_minor, balance, until, policy.id)


def agree(session, account, proposal, actor, today, override_reason=None, policy_allows=None):
    """Record an agreed settlement (replacing any active one) and audit it with the policy
    version that allowed it, or the override and its reason."""
    ledger_settlement.cancel_active(session, account, actor, "replaced by a new settlement")
    row = Settlement(
        account_id=account.id,
        currency=account.currency,
        balance_minor=proposal.balance_minor,
        amount_minor=proposal.amount_minor,
        pct=proposal.pct,
        agreed_on=today,
        pay_by=proposal.until,
        status=statuses.Settlement.ACTIVE,
        policy_id=None if override_reason else proposal.policy_id,
        override_reason=override_reason,
        created_by=actor,
    )
    session.add(row)
    session.flush()
    data = {
        "settlement_id": row.id,
        "amount_minor": proposal.amount_minor,
        "balance_minor": proposal.balance_minor,
        "pct": proposal.pct,
        "pay_by": proposal.until.isoformat(),
        "policy_id": row.policy_id,
    }
    if override_reason:
        data["override_reason"] = override_reason
        data["policy_allows"] = policy_allows
    audit.record(session, actor, "settlement.agreed", account, data)
    return row


def active(session, account):
    return ledger_settlement.active(session, account)


def propose(session, account, today, actor="system"):
    """The bot proposes the policy's settlement (audited); the Offer, or None."""
    proposal = offer(session, account, today)
    if proposal is not None:
        audit.record(
            session,
            actor,
            "settlement.offered",
            account,
            {
                "pct": proposal.pct,
                "amount_minor": proposal.amount_minor,
                "until": proposal.until.isoformat(),
                "policy_id": proposal.policy_id,
            },
        )
    return proposal
