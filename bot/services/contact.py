"""Contact preferences: opt-outs per channel."""

from ..models import utcnow
from . import audit

OPT_OUT_FIELDS = {"whatsapp": "opted_out_whatsapp_at", "sms": "opted_out_sms_at"}


def opt_out(session, conversation, actor):
    """Record that the conversation's number wants no proactive messages on its channel."""
    debtor = conversation.debtor
    field = OPT_OUT_FIELDS[conversation.channel]
    if debtor is not None and getattr(debtor, field) is None:
        setattr(debtor, field, utcnow())
        audit.record(session, actor, "contact.opted_out", debtor, {"channel": conversation.channel})
    audit.record(session, actor, "conversation.opt_out", conversation, {})


def is_opted_out(debtor, channel):
    return debtor is not None and getattr(debtor, OPT_OUT_FIELDS[channel]) is not None
