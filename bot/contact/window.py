"""WhatsApp's customer-service window: free text only within 24 hours of the debtor's message;
outside it only an approved template. SMS has no window."""

from datetime import timedelta

from bot import channels
from bot.clock import utcnow

WHATSAPP_WINDOW = timedelta(hours=24)


def is_open(channel, last_inbound_at, now=None):
    """True inside the window (and always on SMS)."""
    if channel != channels.WHATSAPP:
        return True
    if last_inbound_at is None:
        return False
    return (now or utcnow()) - last_inbound_at < WHATSAPP_WINDOW


def window_open(conversation, now=None):
    return is_open(conversation.channel, conversation.last_inbound_at, now)
