"""A new number or a call-back the debtor asks for in the chat ("cambié de número, anoten este
300 123 4567", "llámenme al ... después de las 5"): the number is read with phonenumbers in the
debtor's country, kept with the debtor's words, and queued for an agent to confirm. Nothing
changes until a person does."""

import re

import phonenumbers
from sqlalchemy import select

from bot import audit, phones, statuses
from bot.clock import utcnow
from bot.conversations.escalation import mark_for_agent
from bot.models import ContactRequest, Debtor

NEW_NUMBER, CALLBACK = "new_number", "callback"
_DIGITS = re.compile(r"\+?\d[\d\s().-]{5,}\d")
PENDING = statuses.ContactRequest.PENDING


class ContactRequestError(ValueError):
    """An agent's decision that cannot be applied (the message says why)."""


def _region(conversation):
    debtor = conversation.debtor
    if debtor is not None and debtor.country:
        return debtor.country
    try:
        number = phonenumbers.parse(conversation.address)
        return phonenumbers.region_code_for_number(number)
    except phonenumbers.NumberParseException:
        return None


def find_phone(text, conversation):
    """The first valid phone number in text (E.164), read in the debtor's country; Mexican
    mobiles written the old way (+52 1 ...) are read as +52; None when there is none."""
    text = text or ""
    region = _region(conversation)
    leniency = phonenumbers.Leniency.POSSIBLE
    candidates = [m.raw_string for m in phonenumbers.PhoneNumberMatcher(text, region, leniency)]
    candidates += _DIGITS.findall(text)  # what the matcher misses (+52 1 55 ..., odd spacing)
    for raw in candidates:
        try:
            return phones.normalise(raw, region)
        except phones.PhoneError:
            continue
    return None


def last_digits(e164):
    return (e164 or "")[-4:]


def _request(session, conversation, kind, phone, words, reason):
    row = ContactRequest(
        conversation_id=conversation.id,
        debtor_id=conversation.debtor_id,
        kind=kind,
        phone=phone,
        words=(words or "")[:1000],
        status=PENDING,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        "debtor",
        f"contact.{kind}_requested",
        conversation,
        {"request_id": row.id, "phone": phones.mask(phone) if phone else None},
    )
    mark_for_agent(session, conversation, reason)
    return row


def request_new_number(session, conversation, phone, words):
    """Note a new number for an agent to confirm; returns the request."""
    return _request(session, conversation, NEW_NUMBER, phone, words, "change_number")


def request_callback(session, conversation, phone, words):
    """Note a call-back (to the number given, else the conversation's own) for an agent."""
    phone = phone or conversation.address
    return _request(session, conversation, CALLBACK, phone, words, "request_callback")


def pending(session, conversation_id):
    return (
        session.execute(
            select(ContactRequest)
            .where(
                ContactRequest.conversation_id == conversation_id,
                ContactRequest.status == PENDING,
            )
            .order_by(ContactRequest.id)
        )
        .scalars()
        .all()
    )


def decide(session, request_id, conversation_id, actor, confirm):
    """An agent confirms (a new number goes on file; a call-back was made) or dismisses a
    request; audited. Raises ContactRequestError."""
    row = session.get(ContactRequest, request_id)
    if row is None or row.conversation_id != conversation_id:
        raise ContactRequestError("That request is not on this conversation.")
    if row.status != PENDING:
        raise ContactRequestError("That request was already decided.")
    details = {"request_id": row.id, "kind": row.kind}
    if confirm and row.kind == NEW_NUMBER:
        debtor = session.get(Debtor, row.debtor_id) if row.debtor_id else None
        if debtor is None:
            raise ContactRequestError("No debtor is known for this number: nothing to update.")
        other = session.execute(
            select(Debtor).where(Debtor.phone == row.phone, Debtor.id != debtor.id)
        ).scalar_one_or_none()
        if other is not None:
            raise ContactRequestError("Another debtor already has that number on file.")
        details["before"], details["after"] = phones.mask(debtor.phone), phones.mask(row.phone)
        debtor.phone = row.phone
    row.status = statuses.ContactRequest.CONFIRMED if confirm else statuses.ContactRequest.DISMISSED
    row.decided_at, row.decided_by = utcnow(), actor
    audit.record(
        session,
        actor,
        "contact.request_confirmed" if confirm else "contact.request_dismissed",
        row,
        details,
    )
    return row
