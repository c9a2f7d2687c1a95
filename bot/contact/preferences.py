"""What a debtor told us about being contacted: channel opt-outs (with their own words, in the
consent register), a stop on every channel, and a number that is not theirs. Recorded with the
moment and audited; the contact decision reads them."""

from bot import audit, channels
from bot.clock import utcnow
from bot.models import ConsentRecord

EMAIL = channels.EMAIL
# Every channel a debtor can be reached on, e-mail included (the e-mail sender reads these).
ALL_CHANNELS = (channels.WHATSAPP, channels.SMS, EMAIL)
OPT_OUT_FIELDS = {
    channels.WHATSAPP: "opted_out_whatsapp_at",
    channels.SMS: "opted_out_sms_at",
    EMAIL: "opted_out_email_at",
}
NO_WORDS = "(no words given)"


def opted_out_at(debtor, channel):
    """When the debtor opted out of channel, or None."""
    return getattr(debtor, OPT_OUT_FIELDS[channel])


def _words(words):
    return " ".join((words or "").split())[:2000] or NO_WORDS


def _revoke(session, debtor, channel, actor, now, words, method, message_id, scope):
    setattr(debtor, OPT_OUT_FIELDS[channel], now)
    session.add(
        ConsentRecord(
            debtor_id=debtor.id,
            channel=channel,
            action="revoked",
            scope=scope,
            at=now,
            method=method,
            evidence=_words(words),
            message_id=message_id,
            recorded_by=actor,
            recorded_at=utcnow(),
        )
    )


def record_opt_out(
    session, debtor, channel, actor, now=None, words=None, method="chat", message_id=None
):
    """Stop proactive messages to debtor on channel, keeping the debtor's own words; False
    when that was already recorded."""
    if opted_out_at(debtor, channel) is not None:
        return False
    now = now or utcnow()
    _revoke(session, debtor, channel, actor, now, words, method, message_id, "channel")
    audit.record(session, actor, "contact.opted_out", debtor, {"channel": channel})
    return True


def record_opt_out_all(
    session, debtor, actor, now=None, words=None, method="chat", message_id=None
):
    """Stop proactive messages on every channel (a clear "all"); the channels newly stopped."""
    now = now or utcnow()
    stopped = [ch for ch in ALL_CHANNELS if opted_out_at(debtor, ch) is None]
    for channel in stopped:
        _revoke(session, debtor, channel, actor, now, words, method, message_id, "all")
    if stopped:
        audit.record(session, actor, "contact.opted_out_all", debtor, {"channels": stopped})
    return stopped


def opted_out_everywhere(debtor):
    return all(opted_out_at(debtor, ch) is not None for ch in ALL_CHANNELS)


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
