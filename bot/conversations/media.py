"""What the debtor sends besides words: a voice note gets a kind answer (write it, or a person);
a photo or PDF is a payment proof (an already-paid claim, handled by its own job); a location,
a sticker, a contact card or a video get a short answer. None of them goes to Rasa, which reads
text only."""

VOICE, RECEIPT, OTHER = "voice", "receipt", "other"
# WhatsApp stickers arrive as WebP images: a sticker is not a receipt.
RECEIPT_TYPES = ("image/jpeg", "image/jpg", "image/png", "image/heic", "application/pdf")
LOCATION = "location"


def inbound_media(form):
    """The media Twilio posted with a message (NumMedia, MediaUrl<n>, MediaContentType<n>) and
    a shared location (Latitude, Longitude, no file): [{"url", "content_type"}], or None.
    Raises ValueError for a malformed list."""
    count = (form.get("NumMedia") or "0").strip()
    if not count.isdigit() or int(count) > 10:
        raise ValueError("NumMedia must be a number from 0 to 10")
    media = []
    for i in range(int(count)):
        url = (form.get(f"MediaUrl{i}") or "").strip()
        if not url.startswith(("https://", "http://")) or len(url) > 1024:
            raise ValueError(f"MediaUrl{i} is missing or not a URL")
        content_type = (form.get(f"MediaContentType{i}") or "").strip()[:64]
        media.append({"url": url, "content_type": content_type})
    if not media and form.get("Latitude") and form.get("Longitude"):
        media.append({"url": None, "content_type": LOCATION})
    return media or None


def kind(message):
    """voice, receipt, other, or None for a message of words only."""
    types = [(m.get("content_type") or "").split(";")[0].lower() for m in message.media or []]
    if not types:
        return None
    if any(t.startswith("audio/") for t in types):
        return VOICE
    if any(t in RECEIPT_TYPES for t in types):
        return RECEIPT
    return OTHER


AGENT_CHOICE = {"title_template": "button.agent", "payload": "/request_agent"}


def replies(message):
    """The answer to a message with media, as template messages (the receipt's answer says it
    will be checked; its claim is made by the receive_media job)."""
    found = kind(message)
    if found == VOICE:
        return [{"template": "media.voice", "vars": {}, "buttons": [AGENT_CHOICE]}]
    if found == RECEIPT:
        return [{"template": "media.receipt", "vars": {}}]
    if found == OTHER:
        return [{"template": "media.other", "vars": {}}]
    return []
