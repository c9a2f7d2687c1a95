"""What the debtor sends besides words: a voice note gets a kind answer (write it, or a person);
a photo or PDF is a payment proof (kept, checked and answered by the receive_media job:
bot.payments.receipts, and an already-paid claim: bot.debts.media_claims); a location, a
sticker, a contact card or a video get a short answer. None of them goes to Rasa, which reads
text only."""

VOICE, RECEIPT, OTHER = "voice", "receipt", "other"
# WhatsApp stickers arrive as WebP images: a sticker is not a receipt.
RECEIPT_TYPES = ("image/jpeg", "image/jpg", "image/png", "image/heic", "application/pdf")
LOCATION = "location"


def kind(message):
    """voice, receipt, other, or None for a message of words only."""
    return media_kind(message.media)


def media_kind(media):
    """kind() of a message's media list (None or [{"url", "content_type"}])."""
    types = [(m.get("content_type") or "").split(";")[0].lower() for m in media or []]
    if not types:
        return None
    if any(t.startswith("audio/") for t in types):
        return VOICE
    if any(t in RECEIPT_TYPES for t in types):
        return RECEIPT
    return OTHER


AGENT_CHOICE = {"title_template": "button.agent", "payload": "/request_agent"}


def replies(message):
    """The turn's answer to a message with media, as template messages: none for a receipt
    (its job answers once it has the file)."""
    found = kind(message)
    if found == VOICE:
        return [{"template": "media.voice", "vars": {}, "buttons": [AGENT_CHOICE]}]
    if found == OTHER:
        return [{"template": "media.other", "vars": {}}]
    return []
