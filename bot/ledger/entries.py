"""Posting to the ledger: entries are only ever added; the caches move with them.

An entry is a signed amount on one bucket (principal, interest, fee, or the credit the debtor
holds): positive adds to what the debtor owes. `post` is the one way to add entries one account
at a time; it keeps LedgerBalance (the sums per bucket) and Account.balance_minor (what is owed:
principal + interest + fees) equal to the sums of the entries, in the same transaction.
The daily accrual (bot.ledger.daily) adds its entries in bulk under the same rules.
"""

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import aliased

from bot import audit, clock, statuses
from bot.models import Account, LedgerBalance, LedgerEntry

Bucket = statuses.Bucket
Entry = statuses.Entry
CACHE = {
    Bucket.PRINCIPAL: "principal_minor",
    Bucket.INTEREST: "interest_minor",
    Bucket.FEE: "fee_minor",
    Bucket.CREDIT: "credit_minor",
}


class LedgerError(ValueError):
    """An entry the ledger refuses (it would change history or lose money)."""


def balance_of(session, account, today=None):
    """The account's LedgerBalance, opening the ledger first when it has none."""
    row = session.get(LedgerBalance, account.id)
    if row is None:
        row = open_ledger(session, account, today=today)
    return row


def open_ledger(session, account, actor="system", today=None, memo="opening balance"):
    """Open the account's ledger with one charge: what it owes now (its amount due when new).
    Interest and late fees start after the day it opens."""
    today = today or clock.today_for(account.debtor)
    session.flush()
    row = LedgerBalance(account_id=account.id, opened_on=today, accrued_through=today)
    session.add(row)
    opening = account.balance_minor or 0
    account.balance_minor = 0
    if opening:
        post(
            session,
            account,
            Entry.CHARGE,
            {Bucket.PRINCIPAL: opening},
            today=today,
            key="opening",
            actor=actor,
            memo=memo,
            balance=row,
        )
    return row


def owing(balance):
    """{bucket: amount owed} for the three owing buckets."""
    return {bucket: getattr(balance, CACHE[bucket]) for bucket in Bucket.OWING}


def post(
    session,
    account,
    kind,
    parts,
    today,
    actor,
    key=None,
    memo=None,
    payment=None,
    reverses=None,
    policy_id=None,
    balance=None,
):
    """Add one entry per non-zero {bucket: signed amount} of parts; returns the entries.

    With a key, posting is idempotent: when the key (or, for several parts, key:bucket) is
    already on the account, nothing is added and [] is returned."""
    if kind not in Entry.ALL:
        raise LedgerError(f"unknown entry kind {kind!r}")
    parts = {b: int(a) for b, a in parts.items() if a}
    if any(b not in CACHE for b in parts):
        raise LedgerError(f"unknown bucket in {sorted(parts)}")
    if not parts:
        return []
    keys = {b: (f"{key}:{b}" if len(parts) > 1 else key) if key else None for b in parts}
    if key is not None:
        taken = session.execute(
            select(LedgerEntry.id).where(
                LedgerEntry.account_id == account.id,
                LedgerEntry.key.in_([k for k in keys.values()]),
            )
        ).first()
        if taken is not None:
            return []
    balance = balance or balance_of(session, account, today)
    reversed_kind = reverses.kind if reverses is not None else None
    after = {b: (getattr(balance, CACHE[b]) or 0) + parts.get(b, 0) for b in CACHE}
    if any(after[b] < 0 for b in Bucket.OWING) or after[Bucket.CREDIT] > 0:
        raise LedgerError(f"entry would leave account {account.id} with a negative bucket: {parts}")
    entries = []
    for bucket, amount in parts.items():
        entry = LedgerEntry(
            account_id=account.id,
            kind=kind,
            bucket=bucket,
            amount_minor=amount,
            currency=account.currency,
            effective_date=today,
            key=keys[bucket],
            payment_id=payment.id if payment is not None else None,
            reverses_id=reverses.id if reverses is not None else None,
            policy_id=policy_id,
            actor=actor,
            memo=(memo or "")[:200] or None,
        )
        session.add(entry)
        entries.append(entry)
        setattr(balance, CACHE[bucket], after[bucket])
        if bucket == Bucket.INTEREST and Entry.INTEREST in (kind, reversed_kind):
            balance.interest_charged_minor = (balance.interest_charged_minor or 0) + amount
    owed = sum(after[b] for b in Bucket.OWING)
    account.balance_minor = owed
    if account.status == statuses.Account.PAID and owed > 0:
        # A new charge (or an undone payment) on a settled debt: it is owed again.
        account.status = statuses.Account.OPEN
        audit.record(session, actor, "account.reopened", account, {"balance_minor": owed})
    session.flush(entries)
    return entries


def allocate(amount, owed, order):
    """Share amount between the owing buckets in order: {bucket: part}, and what is left."""
    parts = {}
    for bucket in order:
        part = min(amount, max(owed.get(bucket, 0), 0))
        if part:
            parts[bucket] = part
            amount -= part
    return parts, amount


def parse_order(text):
    """A policy's allocation order as a tuple of the three owing buckets."""
    order = tuple(part.strip() for part in (text or "").split(",") if part.strip())
    if sorted(order) != sorted(Bucket.OWING):
        return Bucket.OWING
    return order


def reverse(session, entry, actor, reason, today=None):
    """Undo one entry with its exact opposite (history never changes); once only."""
    if entry.kind == Entry.REVERSAL:
        raise LedgerError("a reversal is not reversed; post the amount again instead")
    account = session.get(Account, entry.account_id)
    today = today or clock.today_for(account.debtor)
    posted = post(
        session,
        account,
        Entry.REVERSAL,
        {entry.bucket: -entry.amount_minor},
        today=today,
        actor=actor,
        key=f"reversal:{entry.id}",
        memo=reason,
        payment=None,
        reverses=entry,
        policy_id=entry.policy_id,
    )
    if posted:
        audit.record(
            session,
            actor,
            "ledger.reversed",
            account,
            {"entry_id": entry.id, "amount_minor": -entry.amount_minor, "reason": reason},
        )
    return posted


def refund_credit(session, account, amount_minor, actor, reason, key=None, today=None):
    """Give back money the debtor holds as credit (paid beyond what was owed)."""
    balance = balance_of(session, account, today)
    held = -(balance.credit_minor or 0)
    if amount_minor <= 0 or amount_minor > held:
        raise LedgerError(f"a refund must be between 1 and the credit held ({held})")
    today = today or clock.today_for(account.debtor)
    posted = post(
        session,
        account,
        Entry.REFUND,
        {Bucket.CREDIT: amount_minor},
        today=today,
        actor=actor,
        key=key,
        memo=reason,
    )
    if posted:
        audit.record(
            session, actor, "ledger.refunded", account, {"amount_minor": amount_minor, "key": key}
        )
    return posted


def write_off(
    session,
    account,
    actor,
    reason,
    kind=Entry.WRITE_OFF,
    key=None,
    today=None,
    policy_id=None,
    amount_minor=None,
):
    """Forgive what is owed (all of it, or amount_minor taken interest and fees first)."""
    balance = balance_of(session, account, today)
    owed = owing(balance)
    total = sum(owed.values()) if amount_minor is None else amount_minor
    parts, _left = allocate(total, owed, (Bucket.FEE, Bucket.INTEREST, Bucket.PRINCIPAL))
    today = today or clock.today_for(account.debtor)
    return post(
        session,
        account,
        kind,
        {b: -a for b, a in parts.items()},
        today=today,
        actor=actor,
        key=key,
        memo=reason,
        policy_id=policy_id,
    )


@dataclass(frozen=True)
class Mismatch:
    account_id: int
    field: str
    cached: int
    summed: int


def verify(session, account_ids=None):
    """Every cache compared with the sums of the entries: [] when the ledger holds."""
    sums = {}
    stmt = select(LedgerEntry.account_id, LedgerEntry.bucket, func.sum(LedgerEntry.amount_minor))
    undone = aliased(LedgerEntry)
    is_interest = (LedgerEntry.kind == Entry.INTEREST) | (undone.kind == Entry.INTEREST)
    charged = (
        select(
            LedgerEntry.account_id,
            func.sum(
                case(
                    (
                        (LedgerEntry.bucket == Bucket.INTEREST) & is_interest,
                        LedgerEntry.amount_minor,
                    ),
                    else_=0,
                )
            ),
        )
        .select_from(LedgerEntry)
        .outerjoin(undone, undone.id == LedgerEntry.reverses_id)
    )
    balances = select(LedgerBalance, Account.balance_minor).join(
        Account, Account.id == LedgerBalance.account_id
    )
    if account_ids is not None:
        stmt = stmt.where(LedgerEntry.account_id.in_(account_ids))
        charged = charged.where(LedgerEntry.account_id.in_(account_ids))
        balances = balances.where(LedgerBalance.account_id.in_(account_ids))
    for account_id, bucket, total in session.execute(
        stmt.group_by(LedgerEntry.account_id, LedgerEntry.bucket)
    ):
        sums[(account_id, bucket)] = int(total or 0)
    charged_sums = {
        account_id: int(total or 0)
        for account_id, total in session.execute(charged.group_by(LedgerEntry.account_id))
    }
    problems = []
    for balance, cached_owed in session.execute(balances):
        owed = 0
        for bucket, attr in CACHE.items():
            summed = sums.get((balance.account_id, bucket), 0)
            if getattr(balance, attr) != summed:
                problems.append(Mismatch(balance.account_id, attr, getattr(balance, attr), summed))
            if bucket in Bucket.OWING:
                owed += summed
        if cached_owed != owed:
            problems.append(Mismatch(balance.account_id, "balance_minor", cached_owed, owed))
        summed = charged_sums.get(balance.account_id, 0)
        if balance.interest_charged_minor != summed:
            problems.append(
                Mismatch(
                    balance.account_id,
                    "interest_charged_minor",
                    balance.interest_charged_minor,
                    summed,
                )
            )
    return problems
