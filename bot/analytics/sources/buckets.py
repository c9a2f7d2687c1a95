"""Days past due: accounts entering each bucket on the day, and 30 days later whether they
were cured (paid in full, or on an agreed plan) or rolled on to the next bucket.

An account enters bucket "1-30" the day after its due date if it still owes then and has no
plan; "31-60" thirty days later if still so, and so on. Outcomes are counted on the entry day
once the 30 days have passed (entries younger than that are "maturing"), under the dimensions
the account had on entry: its last reminder within 30 days gives segment, channel, template
and variant. Cure rate = cured / matured entries of "1-30"; the roll rate of a bucket =
rolled / matured entries."""

from collections import defaultdict
from datetime import timedelta

from sqlalchemy import select

from bot import statuses
from bot.analytics.facts import BUCKETS, ROLL_DAYS, Day, cohort_of, portfolio_of
from bot.analytics.touches import touch_dims
from bot.models import Account, Debtor, Payment, PaymentPlan

WINDOW_DAYS = ROLL_DAYS + 1
METRICS = ("dpd_entered", "dpd_matured", "dpd_cured", "dpd_rolled")


def _history(session, account_ids):
    """{account id: [(moment, credit)]} of standing payments, and {account id: first plan}."""
    credits, plans = defaultdict(list), {}
    ids = sorted(account_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for account_id, at, amount, discount, surplus in session.execute(
            select(
                Payment.account_id,
                Payment.received_at,
                Payment.amount_minor,
                Payment.discount_minor,
                Payment.surplus_minor,
            ).where(Payment.account_id.in_(chunk), Payment.status == statuses.Payment.SUCCEEDED)
        ):
            credits[account_id].append((at, amount + discount - surplus))
        for account_id, at in session.execute(
            select(PaymentPlan.account_id, PaymentPlan.created_at).where(
                PaymentPlan.account_id.in_(chunk)
            )
        ):
            plans[account_id] = min(at, plans.get(account_id, at))
    return credits, plans


def owing(row, credits, moment):
    """What the account still owed at moment (its amount due less payments credited before)."""
    paid = sum(credit for at, credit in credits.get(row.account_id, ()) if at < moment)
    return max(row.amount_due_minor - paid, 0)


def collect(session, ctx):
    day = ctx.day
    entering = {day.day - timedelta(days=lower): name for lower, name in BUCKETS}
    rows = session.execute(
        select(
            Account.id.label("account_id"),
            Account.debtor_id,
            Account.segment.label("label"),
            Account.currency,
            Account.due_date,
            Account.amount_due_minor,
            Debtor.country,
        )
        .join(Debtor, Debtor.id == Account.debtor_id)
        .where(Account.due_date.in_(list(entering)))
        .where(Account.created_at < day.end)
        # A dispute upheld: the debt was never owed.
        .where(Account.status != statuses.Account.CLOSED)
    ).all()
    if not rows:
        return
    credits, plans = _history(session, [r.account_id for r in rows])
    horizon = Day.of(day.day + timedelta(days=ROLL_DAYS), ctx.zone).end
    mature = horizon <= ctx.now
    ctx.touches.load([r.debtor_id for r in rows])
    for row in rows:
        plan_at = plans.get(row.account_id)
        owed = owing(row, credits, day.end)
        if owed <= 0 or (plan_at is not None and plan_at < day.end):
            continue  # paid or on a plan: not past due
        name = entering[row.due_date]
        touch = ctx.touches.last(row.debtor_id, day.end, ROLL_DAYS)
        dims = {
            "portfolio": portfolio_of(row.label),
            "country": row.country,
            "currency": row.currency,
            "cohort": cohort_of(row.due_date),
            "detail": name,
        } | touch_dims(touch)
        ctx.facts.add("dpd_entered", 1, owed, **dims)
        if not mature:
            continue
        ctx.facts.add("dpd_matured", 1, owed, **dims)
        cured = owing(row, credits, horizon) <= 0 or (plan_at is not None and plan_at < horizon)
        ctx.facts.add("dpd_cured" if cured else "dpd_rolled", 1, owed, **dims)
