"""Messages the bot or an agent starts (not replies): the text in the debtor's language, sent
as the key's approved WhatsApp template outside the 24-hour window, stored as a pending row and
delivered by a job once the transaction commits."""

from flask import current_app

from bot import channels, clock, outbox, statuses
from bot.clock import utcnow
from bot.contact.decision import Context, Facts, decide, may_contact
from bot.models import Message, TemplateKey
from bot.templates import store as templates
from bot.templates import voice


class Refused(RuntimeError):
    """The contact decision does not allow this message now (decision.reason says why)."""

    def __init__(self, decision, key=None):
        super().__init__(f"{key or 'free text'}: {decision.reason}")
        self.decision = decision


class OutsideWindow(Refused):
    """WhatsApp's 24-hour window is closed and the text has no approved template."""


def conversation_locale(conversation):
    """The locale to write in: the language the debtor writes in, else the one on file."""
    if conversation.locale:
        return conversation.locale
    if conversation.debtor is not None:
        return conversation.debtor.locale
    return current_app.config["DEFAULT_LOCALE"]


def queue_outbound(
    session,
    conversation,
    key=None,
    variables=None,
    body=None,
    author_id=None,
    purpose="agent",
    now=None,
    media=None,
):
    """Store a message the bot or an agent starts as a pending row, when the contact decision
    allows it for purpose: the key's text in the conversation's language (or the body given),
    as the key's approved template outside WhatsApp's window. Refused (OutsideWindow for the
    window) when it cannot go. Delivered once the caller commits.

    media ([{"url", "content_type"}], e.g. a PDF receipt) goes with a WhatsApp text; a template
    or an SMS carries the text alone, so the text should hold a link to the same file."""
    locale = conversation_locale(conversation)
    decision = conversation_decision(session, conversation, purpose, key, now)
    if not decision.allowed:
        error = OutsideWindow if decision.reason == "no_approved_template" else Refused
        raise error(decision, key)
    sid = decision.content_sid
    slots = None
    if sid:
        spec = session.get(TemplateKey, key)
        slots = templates.content_variables(spec, variables or {}, locale)
    if body is None:
        body, _used = templates.render(
            session,
            key,
            locale,
            variables,
            voice.register_for(session, conversation.debtor),
            clock.today_for(conversation.debtor, now),
        )
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
        media=media if media and not sid and conversation.channel == channels.WHATSAPP else None,
    )
    session.add(row)
    session.flush()
    outbox.later(session, "deliver_outbound", row.id)
    return row


def conversation_decision(session, conversation, purpose, key=None, now=None):
    """The contact decision for a message on this conversation: about its debtor when the
    number is known, else (an unknown number) only the window applies."""
    now = now or utcnow()
    if conversation.debtor is not None:
        return may_contact(session, conversation.debtor, conversation.channel, now, purpose, key)
    ctx = Context.load(session)
    facts = Facts(
        debtor_id=None,
        phone=conversation.address,
        country="*",
        timezone=None,
        last_inbound={conversation.channel: conversation.last_inbound_at},
    )
    return decide(ctx, facts, now, purpose, (conversation.channel,), key)
