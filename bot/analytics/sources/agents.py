"""Agents' work on the day, from the audit trail: conversations queued for a person (by
reason), claimed, messages written, and each handling (claim to hand-back, close or release)
with its duration in seconds, counted on the day it ended under the agent who ended it."""

from datetime import timedelta

from sqlalchemy import select

from bot.models import AuditEvent, Conversation

WINDOW_DAYS = 1
METRICS = ("escalated", "agent_claimed", "agent_messages", "agent_handled")
STARTS = ("conversation.claimed", "conversation.taken_over")
ENDS = ("conversation.handed_back", "conversation.closed", "conversation.released")
# A handling longer than this is not looked for (its claim is outside the audit window read).
LONGEST_HANDLING_DAYS = 14


def _agent(actor):
    role, _, ident = (actor or "").partition(":")
    return int(ident) if role in ("agent", "admin") and ident.isdigit() else 0


def collect(session, ctx):
    day, facts = ctx.day, ctx.facts
    actions = ("conversation.needs_agent", "conversation.agent_message", *STARTS, *ENDS)
    events = session.execute(
        select(
            AuditEvent.at,
            AuditEvent.actor,
            AuditEvent.action,
            AuditEvent.subject_id,
            AuditEvent.data,
        )
        .where(AuditEvent.at >= day.start, AuditEvent.at < day.end)
        .where(AuditEvent.subject_type == Conversation.__tablename__)
        .where(AuditEvent.action.in_(actions))
        .order_by(AuditEvent.at, AuditEvent.id)
    ).all()
    if not events:
        return
    channels = dict(
        session.execute(
            select(Conversation.id, Conversation.channel).where(
                Conversation.id.in_({int(e.subject_id) for e in events if e.subject_id.isdigit()})
            )
        ).all()
    )
    ended = [e for e in events if e.action in ENDS]
    starts = _starts(session, day, {e.subject_id for e in ended})
    for e in events:
        channel = channels.get(int(e.subject_id)) if e.subject_id.isdigit() else None
        agent = _agent(e.actor)
        if e.action == "conversation.needs_agent":
            reason = (e.data or {}).get("reason") or ""
            facts.add("escalated", 1, channel=channel, detail=reason[:32])
        elif e.action in STARTS:
            facts.add("agent_claimed", 1, channel=channel, agent_id=agent)
        elif e.action == "conversation.agent_message":
            facts.add("agent_messages", 1, channel=channel, agent_id=agent)
        else:
            began = _latest_before(starts.get(e.subject_id, ()), e.at)
            seconds = int((e.at - began).total_seconds()) if began is not None else 0
            facts.add(
                "agent_handled",
                1,
                seconds,
                channel=channel,
                agent_id=agent,
                detail=e.action.rpartition(".")[2],
            )


def _starts(session, day, subjects):
    """{conversation id: [claim moments]} for the conversations whose handling ended today."""
    if not subjects:
        return {}
    out = {}
    for at, subject in session.execute(
        select(AuditEvent.at, AuditEvent.subject_id)
        .where(AuditEvent.subject_type == Conversation.__tablename__)
        .where(AuditEvent.subject_id.in_(subjects))
        .where(AuditEvent.action.in_(STARTS))
        .where(AuditEvent.at >= day.start - timedelta(days=LONGEST_HANDLING_DAYS))
        .where(AuditEvent.at < day.end)
    ):
        out.setdefault(subject, []).append(at)
    return out


def _latest_before(moments, at):
    earlier = [m for m in moments if m <= at]
    return max(earlier) if earlier else None
