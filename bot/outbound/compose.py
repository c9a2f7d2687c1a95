"""Messages the bot or an agent starts (not replies): the text in the debtor's language, sent
as the key's approved WhatsApp template outside the 24-hour window, stored as a pending row and
delivered by a job once the transaction commits."""

from flask import current_app

from bot import outbox, statuses
from bot.contact.window import window_open
from bot.models import Message, TemplateKey
from bot.templates import store as templates


class OutsideWindow(RuntimeError):
    """WhatsApp's 24-hour window is closed and the text has no approved template."""


def conversation_locale(conversation):
    """The locale to write in: the language the debtor writes in, else the one on file."""
    if conversation.locale:
        return conversation.locale
    if conversation.debtor is not None:
        return conversation.debtor.locale
    return current_app.config["DEFAULT_LOCALE"]


def approved_template(session, conversation, key, variables, locale, now=None):
    """(content_sid, content_variables) for a message the bot or an agent starts: (None, None)
    inside the window; the key's approved template outside it; OutsideWindow without one."""
    if window_open(conversation, now):
        return None, None
    spec = session.get(TemplateKey, key) if key else None
    if spec is None or not spec.content_sid:
        raise OutsideWindow(f"{key or 'free text'} has no approved WhatsApp template")
    return spec.content_sid, templates.content_variables(spec, variables or {}, locale)


def queue_outbound(session, conversation, key=None, variables=None, body=None, author_id=None):
    """Store a message the bot or an agent starts as a pending row: the key's text in the
    conversation's language (or the body given), as the key's approved template outside
    WhatsApp's window; OutsideWindow when it cannot go. Delivered once the caller commits."""
    locale = conversation_locale(conversation)
    sid, slots = approved_template(session, conversation, key, variables, locale)
    if body is None:
        body, _used = templates.render(session, key, locale, variables)
    row = Message(
        conversation_id=conversation.id,
        direction=statuses.OUT,
        body=body,
        template_key=key,
        variables=variables,
        status=statuses.Outbound.PENDING,
        author_id=author_id,
        content_sid=sid,
        content_variables=slots,
    )
    session.add(row)
    session.flush()
    outbox.later(session, "deliver_outbound", row.id)
    return row
