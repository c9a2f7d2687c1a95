"""The contact funnel: each reminder sent on the day, and whether within ATTRIBUTION_DAYS it
was delivered, read, replied to, followed by a verified identity, an outcome (promise, plan,
claim, dispute or payment), a payment, or an opt-out. Counted on the day it was sent."""

from datetime import timedelta

from sqlalchemy import case, exists, func, or_, select
from sqlalchemy.orm import aliased

from bot import statuses
from bot.analytics.facts import ATTRIBUTION_DAYS, portfolio_of
from bot.analytics.touches import CONTACTED
from bot.models import (
    Account,
    Conversation,
    Debtor,
    Dispute,
    Message,
    Payment,
    PaymentClaim,
    PaymentPlan,
    Promise,
    ScheduledMessage,
)

WINDOW_DAYS = ATTRIBUTION_DAYS + 1
NOT_SENT = (statuses.Outbound.PENDING, statuses.Outbound.SENDING, statuses.Outbound.SUPPRESSED)
DELIVERED = ("delivered", "read")
STAGES = ("contacted", "delivered", "read", "replied", "verified", "outcome", "promised", "paid",
          "opted_out")  # fmt: skip
METRICS = (*STAGES, "sent")


def _after(column, sm, bound):
    return (column > sm.contacted_at) & (column < bound)


def _flag(condition):
    return func.sum(case((condition, 1), else_=0))


def funnel_query(day):
    """One row per combination of dimensions with the count of contacts at each stage."""
    sm = ScheduledMessage
    bound = day.end + timedelta(days=ATTRIBUTION_DAYS)
    inbound = aliased(Message)
    other = aliased(Conversation)
    replied = exists().where(
        inbound.conversation_id == Message.conversation_id,
        inbound.direction == statuses.IN,
        _after(inbound.created_at, sm, bound),
    )
    verified = exists().where(other.debtor_id == sm.debtor_id, _after(other.verified_at, sm, bound))

    def by_account(model, column):
        return exists().where(model.account_id == sm.account_id, _after(column, sm, bound))

    paid = exists().where(
        Payment.account_id == sm.account_id,
        Payment.status == statuses.Payment.SUCCEEDED,
        _after(Payment.received_at, sm, bound),
    )
    promised = by_account(Promise, Promise.created_at)
    outcome = or_(
        promised,
        by_account(PaymentPlan, PaymentPlan.created_at),
        by_account(PaymentClaim, PaymentClaim.created_at),
        by_account(Dispute, Dispute.created_at),
        paid,
    )
    opted_out = or_(
        _after(Debtor.opted_out_whatsapp_at, sm, bound),
        _after(Debtor.opted_out_sms_at, sm, bound),
        _after(Debtor.wrong_number_at, sm, bound),
    )
    dims = (
        sm.segment,
        sm.template_key,
        sm.variant_id,
        Conversation.channel,
        Account.segment.label("label"),
        Debtor.country,
        Account.currency,
    )
    return (
        select(
            *dims,
            func.count().label("contacted"),
            _flag(Message.status.in_(DELIVERED)).label("delivered"),
            _flag(Message.status == "read").label("read"),
            _flag(replied).label("replied"),
            _flag(verified).label("verified"),
            _flag(outcome).label("outcome"),
            _flag(promised).label("promised"),
            _flag(paid).label("paid"),
            _flag(opted_out).label("opted_out"),
        )
        .select_from(sm)
        .join(Message, Message.id == sm.message_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(Account, Account.id == sm.account_id)
        .join(Debtor, Debtor.id == sm.debtor_id)
        .where(sm.contacted_at >= day.start, sm.contacted_at < day.end)
        .where(sm.status.in_(CONTACTED))
        .where(Message.status.not_in(NOT_SENT))
        .group_by(*dims)
    )


def collect(session, ctx):
    collect_funnel(session, ctx)
    collect_sent(session, ctx)


def collect_funnel(session, ctx):
    for row in session.execute(funnel_query(ctx.day)):
        dims = {
            "portfolio": portfolio_of(row.label),
            "segment": row.segment,
            "country": row.country,
            "channel": row.channel,
            "template_key": ctx.names(row.template_key, row.variant_id),
            "variant_id": row.variant_id,
            "currency": row.currency,
        }
        for stage in STAGES:
            value = getattr(row, stage) or 0
            if value:
                ctx.facts.add(stage, value, **dims)


def sent_query(day):
    """Every outbound message that left on the day (reminders, bot replies, agents' messages),
    by channel and the debtor's first account: what the messages cost."""
    own = aliased(Account)
    first = (
        select(own.id)
        .where(own.debtor_id == Debtor.id)
        .order_by(own.id)
        .limit(1)
        .correlate(Debtor)
        .scalar_subquery()
    )
    dims = (Conversation.channel, Debtor.country, Account.currency, Account.segment.label("label"))
    return (
        select(*dims, func.count().label("n"))
        .select_from(Message)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(Debtor, Debtor.id == Conversation.debtor_id)
        .join(Account, Account.id == first)
        .where(Message.direction == statuses.OUT)
        .where(Message.created_at >= day.start, Message.created_at < day.end)
        .where(Message.status.not_in(NOT_SENT))
        .group_by(*dims)
    )


def collect_sent(session, ctx):
    for row in session.execute(sent_query(ctx.day)):
        ctx.facts.add(
            "sent",
            row.n,
            portfolio=portfolio_of(row.label),
            country=row.country,
            channel=row.channel,
            currency=row.currency,
        )
