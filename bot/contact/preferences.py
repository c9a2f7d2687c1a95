"""What a debtor told us about being contacted: channel opt-outs and a number that is not
theirs. Recorded with the moment and audited; the contact decision reads them."""

from bot import audit, channels
from bot.clock import utcnow

OPT_OUT_FIELDS = {channels.WHATSAPP: "opted_out_whatsapp_at", channels.SMS: "opted_out_sms_at"}


def opted_out_at(debtor, channel):
    """When the debtor opted out of channel, or None."""
    return getattr(debtor, OPT_OUT_FIELDS[channel])


def record_opt_out(session, debtor, channel, actor, now=None):
    """Stop proactive messages to debtor on channel; False when that was already recorded."""
    if opted_out_at(debtor, channel) is not None:
        return False
    setattr(debtor, OPT_OUT_FIELDS[channel], now or utcnow())
    audit.record(session, actor, "contact.opted_out", debtor, {"channel": channel})
    return True


def record_wrong_number(session, debtor, channel, actor, now=None):
    """The number is not the debtor's: nothing proactive goes to it again; False when known."""
    if debtor.wrong_number_at is not None:
        return False
    debtor.wrong_number_at = now or utcnow()
    audit.record(session, actor, "contact.wrong_number", debtor, {"channel": channel})
    return True


def clear_wrong_number(session, debtor, actor, reason, now=None):
    """Undo a wrong-number mark (an agent found it was the debtor's number after all, or the
    debtor verified on it); False when the number was not marked."""
    if debtor.wrong_number_at is None:
        return False
    audit.record(
        session,
        actor,
        "contact.wrong_number_cleared",
        debtor,
        {"reason": reason, "marked_at": debtor.wrong_number_at.isoformat()},
    )
    debtor.wrong_number_at = None
    return True
