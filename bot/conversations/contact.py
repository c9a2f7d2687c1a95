"""Contact preferences: opt-outs per channel."""

from bot import audit
from bot.models import utcnow

OPT_OUT_FIELDS = {"whatsapp": "opted_out_whatsapp_at", "sms": "opted_out_sms_at"}


def opt_out(session, conversation, actor):
    """Record that the conversation's number wants no proactive messages on its channel;
    return False when that was already recorded (so the confirmation is sent once)."""
    debtor = conversation.debtor
    field = OPT_OUT_FIELDS[conversation.channel]
    if debtor is not None and getattr(debtor, field) is not None:
        return False
    if debtor is not None:
        setattr(debtor, field, utcnow())
        audit.record(session, actor, "contact.opted_out", debtor, {"channel": conversation.channel})
    audit.record(session, actor, "conversation.opt_out", conversation, {})
    return True


def is_opted_out(debtor, channel):
    return debtor is not None and getattr(debtor, OPT_OUT_FIELDS[channel]) is not None


def mark_wrong_number(session, conversation, actor):
    """The number is not the debtor's: no further contact to it; agents look for another."""
    from bot.outbound.messaging import mark_for_agent

    debtor = conversation.debtor
    if debtor is not None and debtor.wrong_number_at is None:
        debtor.wrong_number_at = utcnow()
        audit.record(
            session, actor, "contact.wrong_number", debtor, {"channel": conversation.channel}
        )
        mark_for_agent(session, conversation, "wrong_number")
    conversation.state = "closed"
    audit.record(session, actor, "conversation.closed", conversation, {"reason": "wrong_number"})
