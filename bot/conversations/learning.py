"""The learning loop: messages the bot fell back on or understood with low confidence are kept
(their text only, long numbers masked), an admin labels the intent they meant, and the labelled
ones are exported as Rasa NLU training data for nlu_data/; `make model` retrains on them."""

import re
from collections import defaultdict

from sqlalchemy import select

from bot import audit, clock
from bot.models import NluReview

LOW_CONFIDENCE = 0.6  # under this, a message is worth a person's look even when it was answered
IGNORE = "ignore"  # a label that keeps a message out of the export (noise, personal data)
_LONG_NUMBER = re.compile(r"\d[\d .-]{2,}\d")
_MARKUP = re.compile(r"[\[\]{}()]")


def mask(text):
    """Runs of four digits or more (ID endings, phone numbers) become zeros: the shape of the
    message stays, for training, but no ID or number does."""

    def zeros(match):
        digits = sum(ch.isdigit() for ch in match.group(0))
        return match.group(0) if digits < 4 else re.sub(r"\d", "0", match.group(0))

    return _LONG_NUMBER.sub(zeros, text or "")


def record(session, message_id, text, language, predicted, confidence, fell_back):
    """Keep a message for review (once per inbound message); returns the row or None."""
    text = mask((text or "").strip())[:1000]
    if not text or text.startswith("/"):  # a button's payload is not the debtor's words
        return None
    if message_id is not None:
        existing = session.execute(
            select(NluReview).where(NluReview.message_id == message_id)
        ).scalar_one_or_none()
        if existing is not None:
            existing.fell_back = max(existing.fell_back, int(bool(fell_back)))
            return existing
    row = NluReview(
        message_id=message_id,
        text=text,
        language=(language or "")[:8] or None,
        predicted=predicted,
        confidence=confidence,
        fell_back=int(bool(fell_back)),
    )
    session.add(row)
    return row


def worth_reviewing(confidence, fell_back):
    return fell_back or (confidence is not None and confidence < LOW_CONFIDENCE)


def reviews(session, status="open", limit=200):
    """Rows newest first: "open" (not labelled), "labelled", or "all"."""
    stmt = select(NluReview).order_by(NluReview.created_at.desc(), NluReview.id.desc())
    if status == "open":
        stmt = stmt.where(NluReview.label.is_(None))
    elif status == "labelled":
        stmt = stmt.where(NluReview.label.isnot(None))
    return session.execute(stmt.limit(limit)).scalars().all()


def label(session, review_id, intent, user_actor, intents):
    """Label a message with the intent it meant (or "ignore"); audited."""
    row = session.get(NluReview, review_id)
    if row is None:
        raise LookupError(f"no message {review_id} to label")
    if intent not in intents and intent != IGNORE:
        raise ValueError(f"{intent!r} is not an intent of the bot")
    before = row.label
    row.label, row.labelled_by, row.labelled_at = intent, user_actor, clock.utcnow()
    audit.record(session, user_actor, "nlu.labelled", row, {"before": before, "after": intent})
    return row


def export_yaml(session, language=None):
    """The labelled examples as Rasa NLU YAML (one block per intent), ready for
    nlu_data/<language>/; "ignore" and duplicates are left out."""
    stmt = select(NluReview).where(NluReview.label.isnot(None), NluReview.label != IGNORE)
    if language:
        stmt = stmt.where(NluReview.language == language)
    by_intent = defaultdict(list)
    for row in session.execute(stmt.order_by(NluReview.id)).scalars():
        text = " ".join(_MARKUP.sub("", row.text).split())
        if text and text not in by_intent[row.label]:
            by_intent[row.label].append(text)
    lines = [
        "# Labelled in Admin > Learning: messages the bot fell back on or was unsure of.",
        "# Review, then add them to nlu_data/<language>/ and run `make model`.",
        'version: "3.1"',
        "nlu:",
    ]
    for intent in sorted(by_intent):
        lines.append(f"  - intent: {intent}")
        lines.append("    examples: |")
        lines += [f"      - {text}" for text in by_intent[intent]]
    return "\n".join(lines) + "\n"
