"""A debtor waiting for a person: writing again gets a short "still in line" with the expected
time, not the hand-over text once more."""

from sqlalchemy import func, select

from bot import statuses
from bot.conversations.agents import handoff_message
from bot.models import Conversation

WAIT_STEP = 5  # minutes: an expected wait is told in steps of five


def is_waiting(conversation):
    """Queued for an agent, and no agent holds it yet."""
    return bool(conversation.needs_agent) and conversation.state == statuses.Conversation.BOT


def ahead_of(session, conversation):
    """Conversations waiting that joined the queue before this one."""
    return session.execute(
        select(func.count(Conversation.id)).where(
            Conversation.needs_agent.is_(True),
            Conversation.state == statuses.Conversation.BOT,
            Conversation.escalated_at < conversation.escalated_at,
        )
    ).scalar()


def expected_minutes(session, config, conversation):
    """AGENT_MINUTES_PER_CONVERSATION for each conversation ahead and this one, in steps of
    five minutes."""
    per = config["AGENT_MINUTES_PER_CONVERSATION"]
    ahead = ahead_of(session, conversation) if conversation.escalated_at else 0
    minutes = per * (ahead + 1)
    return max(WAIT_STEP, -(-minutes // WAIT_STEP) * WAIT_STEP)


def still_waiting_message(session, config, conversation, now=None):
    """The template message for a debtor who writes again while in line: on shift, the
    expected minutes; off shift, when the team is back in the debtor's zone."""
    handoff = handoff_message(config, conversation.debtor, now)
    if handoff["template"] == "agent.handoff_later":
        return {"template": "agent.still_waiting_later", "vars": handoff["vars"]}
    minutes = expected_minutes(session, config, conversation)
    return {"template": "agent.still_waiting", "vars": {"minutes": minutes}}
