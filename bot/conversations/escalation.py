"""Queueing a conversation for the agents, with the reason they see first."""

from bot import audit, statuses
from bot.clock import utcnow


def mark_for_agent(session, conversation, reason):
    """Put the conversation in the agents' queue (once; the first reason stays)."""
    if not conversation.needs_agent:
        conversation.needs_agent = True
        conversation.agent_reason = reason
        conversation.escalated_at = utcnow()
        audit.record(
            session, "system", "conversation.needs_agent", conversation, {"reason": reason}
        )


def on_delivery_failed(session, message, error_code):
    """A hook receiver: a message Twilio finally refused needs a person."""
    mark_for_agent(session, message.conversation, "delivery_failure")
    return True


def unmark_for_agent(session, conversation, reason, actor):
    """Take the conversation out of the agents' queue when it waits only for reason and nobody
    holds it (e.g. every receipt it sent has been decided)."""
    if (
        conversation.needs_agent
        and conversation.agent_reason == reason
        and conversation.state != statuses.Conversation.AGENT
    ):
        conversation.needs_agent = False
        conversation.agent_reason = None
        conversation.escalated_at = None
        audit.record(session, actor, "conversation.dequeued", conversation, {"reason": reason})
