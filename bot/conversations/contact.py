"""What the debtor says about being contacted, in the chat: stop writing on this channel, or
this is not their number."""

from bot import audit, statuses
from bot.contact import preferences
from bot.conversations.escalation import mark_for_agent


def opt_out(session, conversation, actor):
    """Record that the conversation's number wants no proactive messages on its channel;
    return False when that was already recorded (so the confirmation is sent once)."""
    debtor = conversation.debtor
    if debtor is not None and not preferences.record_opt_out(
        session, debtor, conversation.channel, actor
    ):
        return False
    audit.record(session, actor, "conversation.opt_out", conversation, {})
    return True


def mark_wrong_number(session, conversation, actor):
    """The number is not the debtor's: no further contact to it; agents look for another."""
    debtor = conversation.debtor
    if debtor is not None and preferences.record_wrong_number(
        session, debtor, conversation.channel, actor
    ):
        mark_for_agent(session, conversation, "wrong_number")
    conversation.state = statuses.Conversation.CLOSED
    audit.record(session, actor, "conversation.closed", conversation, {"reason": "wrong_number"})
