"""The channels a debtor is reached on, Twilio's way of writing their addresses, and e-mail
addresses checked and normalised (email-validator)."""

from email_validator import EmailNotValidError, validate_email

from bot import phones

WHATSAPP = "whatsapp"
SMS = "sms"
EMAIL = "email"
CHANNELS = (WHATSAPP, SMS)  # Twilio's channels; e-mail goes through SMTP (bot.outbound.email)
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
    """The creditor's own address on channel (TWILIO_WHATSAPP_FROM / TWILIO_SMS_FROM /
    EMAIL_FROM)."""
    if channel == EMAIL:
        return config["EMAIL_FROM"]
    return config["TWILIO_WHATSAPP_FROM" if channel == WHATSAPP else "TWILIO_SMS_FROM"]


def order_for(config, preferred=None, has_email=False):
    """The channels to try for a debtor: the one they prefer first, then CHANNEL_ORDER; e-mail
    only when it is configured and the debtor has an address."""
    order = [preferred] if preferred else []
    order += [c for c in config.get("CHANNEL_ORDER", (WHATSAPP, SMS, EMAIL)) if c != preferred]
    usable = config.get("EMAIL_ENABLED") and has_email
    return tuple(c for c in order if c in (WHATSAPP, SMS) or (c == EMAIL and usable))


def normalise_email(raw):
    """An e-mail address checked for syntax (no DNS lookup) and normalised: the domain in lower
    case and IDNA-checked, the local part as written. BadAddress with the reason otherwise."""
    raw = (raw or "").strip()
    if not raw:
        raise BadAddress("the e-mail address is empty")
    try:
        return validate_email(raw, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise BadAddress(f"not a valid e-mail address: {exc}") from exc


def mask_address(channel, address):
    """An address for screens and logs: the number's last 3 digits, or an e-mail's first
    letter and domain (c***@example.com)."""
    if channel == EMAIL:
        local, _, domain = (address or "").rpartition("@")
        return f"{local[:1]}***@{domain}" if local else "***"
    return phones.mask(address)
