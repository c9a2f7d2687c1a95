"""The channels a debtor is reached on and Twilio's way of writing their addresses."""

from bot import phones

WHATSAPP = "whatsapp"
SMS = "sms"
CHANNELS = (WHATSAPP, SMS)
_PREFIX = {WHATSAPP: "whatsapp:"}


class BadAddress(ValueError):
    """A From/To that is not a channel address we can use."""


def address(channel, e164):
    """Twilio's address: 'whatsapp:+57...' on WhatsApp, the bare number on SMS."""
    return _PREFIX.get(channel, "") + e164


def parse(raw):
    """Split Twilio's From/To into (channel, E.164): 'whatsapp:+57...' or '+57...' (SMS)."""
    raw = (raw or "").strip()
    if not raw:
        raise BadAddress("From is missing")
    channel, number = SMS, raw
    if ":" in raw:
        prefix, number = raw.split(":", 1)
        if prefix != WHATSAPP:
            raise BadAddress(f"unknown channel {prefix!r}")
        channel = WHATSAPP
    if not number.startswith("+"):
        raise BadAddress("From is not an E.164 number")
    try:
        return channel, phones.normalise(number)
    except phones.PhoneError as exc:
        raise BadAddress("From is not a valid phone number") from exc


def sender(config, channel):
    """The creditor's own address on channel (TWILIO_WHATSAPP_FROM / TWILIO_SMS_FROM)."""
    return config["TWILIO_WHATSAPP_FROM" if channel == WHATSAPP else "TWILIO_SMS_FROM"]
