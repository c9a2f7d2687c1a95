"""Identity verification by the last four characters of the national ID."""

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from flask import current_app

from bot import audit
from bot.clock import utcnow
from bot.contact import preferences
from bot.conversations.escalation import mark_for_agent
from bot.models import Message

MAX_ATTEMPTS = 3
LOCK_MINUTES = 30
VERIFIED_FOR = timedelta(hours=12)

_TOKEN = re.compile(r"(?<![0-9A-Za-z])([0-9]{3}[0-9A-Za-z])(?![0-9A-Za-z])")
# Seven digits or more in one run (spaces, dots, dashes and brackets between them): a phone
# number, whose last four are not an ID answer.
_PHONE = re.compile(r"\+?\d[\d\s().-]{5,}\d")
# Words that say the digits are the ID ("mi cédula termina en 4821"), so digits typed before the
# bot asked for them count.
_ID_CUE = re.compile(
    r"c[eé]dula|\bc\.?c\b|documento|\bdni\b|\brut\b|\bcurp\b|\bine\b|\bdoc\b|"
    r"identificaci[oó]n|termina|[uú]ltimos|\bid\b|\bssn\b|ends? (in|with)|last (4|four)",
    re.IGNORECASE,
)


def normalise_secret(value):
    return re.sub(r"[^0-9A-Za-z]", "", value or "").upper()


def new_salt():
    return secrets.token_hex(8)


def hash_secret(value, salt, key=None):
    key = (key or current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, f"{salt}:{normalise_secret(value)}".encode(), hashlib.sha256).hexdigest()


def secret_matches(debtor, value, key=None):
    expected = hash_secret(value, debtor.id_secret_salt, key)
    return hmac.compare_digest(expected, debtor.id_secret_hash)


def looks_like_phone(text):
    """True when the text carries a phone number (seven digits or more in one run)."""
    for match in _PHONE.finditer(text or ""):
        if sum(ch.isdigit() for ch in match.group(0)) >= 7:
            return True
    return False


def extract_candidate(text):
    """Find the four ID characters in what the debtor typed ("termina en 4821", "4 8 2 1");
    never the end of a phone number."""
    text = text or ""
    if looks_like_phone(text):
        return None
    match = _TOKEN.search(text)
    if match:
        return match.group(1).upper()
    digits = re.sub(r"\D", "", text)
    return digits if len(digits) == 4 else None


def is_verified(conversation, now=None):
    now = now or utcnow()
    return bool(conversation.verified_at and now - conversation.verified_at < VERIFIED_FOR)


def is_locked(conversation, now=None):
    now = now or utcnow()
    return bool(conversation.locked_until and conversation.locked_until > now)


def minutes_locked(conversation, now=None):
    """Whole minutes until verification unlocks (0 when it is not locked)."""
    now = now or utcnow()
    if not is_locked(conversation, now):
        return 0
    return max(1, -(-int((conversation.locked_until - now).total_seconds()) // 60))


def attempt(session, conversation, text, now=None):
    """Check a verification attempt; return (outcome, attempts_left).

    outcome is one of: verified, invalid_format, failed, locked.
    """
    now = now or utcnow()
    if is_locked(conversation, now):
        return "locked", 0
    candidate = extract_candidate(text)
    if candidate is None:
        return "invalid_format", MAX_ATTEMPTS - conversation.verification_failures
    debtor = conversation.debtor
    if debtor is not None and secret_matches(debtor, candidate):
        conversation.verified_at = now
        conversation.verification_failures = 0
        audit.record(session, f"debtor:{debtor.id}", "verification.succeeded", conversation)
        # The holder proved the number is theirs: a wrong-number mark on it was a mistake.
        preferences.clear_wrong_number(session, debtor, f"debtor:{debtor.id}", "verified", now)
        return "verified", MAX_ATTEMPTS
    conversation.verification_failures += 1
    left = MAX_ATTEMPTS - conversation.verification_failures
    audit.record(session, "debtor", "verification.failed", conversation, {"attempts_left": left})
    if left <= 0:
        conversation.locked_until = now + timedelta(minutes=LOCK_MINUTES)
        # Reminders to this number are discreet again until someone verifies.
        conversation.locked_at = now
        conversation.verification_failures = 0
        mark_for_agent(session, conversation, "failed_verification")
        audit.record(
            session,
            "system",
            "conversation.locked",
            conversation,
            {"until": conversation.locked_until.isoformat(), "reason": "failed_verification"},
        )
        return "locked", 0
    return "failed", left


REDACTED = "[verification answer withheld]"


def redact_answer(session, message_id):
    """Replace the stored text of a verification answer: the ID digits live only as a hash."""

    message = session.get(Message, message_id) if message_id else None
    if message is not None and message.direction == "in":
        message.body = REDACTED


def early_candidate(text):
    """ID characters typed before the bot asked for them: the four characters alone, or with
    words that say they are the ID ("hola, mi cédula termina en 4821"); None otherwise (a date
    or an amount is not an ID answer)."""
    text = (text or "").strip()
    candidate = extract_candidate(text)
    if candidate is None:
        return None
    alone = re.fullmatch(r"[\s.,:;-]*([0-9]\s?){3}[0-9A-Za-z][\s.!]*", text) is not None
    return candidate if alone or _ID_CUE.search(text) else None


# What follows a successful verification, by the request the debtor made before it: answer
# it at once, or start the form that asks its next question. Anything else gets the menu.
AFTER_VERIFICATION = {
    "dispute_debt": ("answer", "dispute"),
    "ask_discount": ("answer", "discount"),
    # A settlement is the discount question's answer (the policy's offer, or a settlement
    # where the money service proposes one).
    "request_settlement": ("answer", "discount"),
    "request_payment_link": ("answer", "payment_link"),
    "ask_balance": ("answer", "balance"),
    "ask_amount_breakdown": ("answer", "breakdown"),
    "ask_creditor": ("answer", "creditor"),
    "request_receipt": ("answer", "documents"),
    "request_certificate": ("answer", "documents"),
    "already_paid": ("form", "payment_claim_form"),
    "request_installments": ("form", "plan_form"),
    "promise_to_pay": ("form", "promise_form"),
    "request_deferral": ("form", "promise_form"),
    "partial_payment": ("form", "partial_form"),
}


def next_step(pending_request):
    """(kind, what) for the request pending when verification succeeded: ("answer", topic),
    ("form", form name) or ("menu", None)."""
    return AFTER_VERIFICATION.get(pending_request or "", ("menu", None))
