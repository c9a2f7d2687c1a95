"""How many SMS parts a text takes (GSM-7 or UCS-2), shown beside every template being edited."""

from dataclasses import dataclass

# GSM 03.38: the basic set (one septet each) and the extension table (escape + one septet).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")


@dataclass
class SmsCount:
    encoding: str  # GSM-7 or UCS-2
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def sms_segments(text):
    """How many SMS parts text takes: GSM-7 160 alone / 153 per part, UCS-2 70 / 67.

    A character outside GSM-7 (e.g. "á", an emoji) makes the whole message UCS-2. An extension
    character (€, [, {...) takes two septets and a surrogate pair (emoji) two code units; neither
    is split across parts, as phones reassemble them whole.
    """
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        encoding, single, part = "GSM-7", 160, 153
        units = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    else:
        encoding, single, part = "UCS-2", 70, 67
        units = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    total = sum(units)
    if total <= single:
        return SmsCount(encoding, total, 1)
    segments, used = 1, 0
    for size in units:
        if used + size > part:
            segments, used = segments + 1, 0
        used += size
    return SmsCount(encoding, total, segments)
