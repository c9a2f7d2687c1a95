"""The bot's answers to one inbound message: rendered in the debtor's language, with their
choices as numbered lines (or WhatsApp quick-reply buttons), stored before anything is sent."""

import logging
import re

from sqlalchemy import select

from bot import statuses
from bot.conversations.escalation import mark_for_agent
from bot.models import Message, TemplateKey
from bot.outbound.compose import conversation_locale
from bot.templates import store as templates

log = logging.getLogger(__name__)
_CHOICE = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")


def record_replies(session, inbound, template_messages):
    """Render the bot's answers and store them as pending outbound rows, in order."""
    conversation = inbound.conversation
    locale = conversation_locale(conversation)
    rows = []
    for seq, item in enumerate(template_messages):
        row = Message(
            conversation_id=conversation.id,
            direction=statuses.OUT,
            reply_to_id=inbound.id,
            seq=seq,
            template_key=item.get("template"),
            variables=item.get("vars") or {},
            status=statuses.Outbound.PENDING,
        )
        try:
            if item.get("template"):
                row.body, _used = templates.render(session, item["template"], locale, row.variables)
            else:
                row.body = item["raw"]
            row.buttons = render_choices(session, item.get("buttons"), locale) or None
            row.body = append_choices(row.body, row.buttons)
            if row.buttons and conversation.channel == "whatsapp":
                _quick_replies(session, row, locale)
        except Exception as exc:  # a bad template or variable fails this reply, not the turn
            log.error("cannot render %s for message %s: %r", item.get("template"), inbound.id, exc)
            row.status, row.error_message = statuses.Outbound.FAILED, str(exc)[:256]
            mark_for_agent(session, conversation, "render_error")
        session.add(row)
        rows.append(row)
    return rows


def _quick_replies(session, row, locale):
    """On WhatsApp, choices go as real quick-reply buttons when the key is linked to an
    approved quick-reply template (its buttons carry our payloads, which come back as
    ButtonPayload); otherwise the numbered text, which works everywhere."""
    spec = session.get(TemplateKey, row.template_key) if row.template_key else None
    if spec is not None and spec.content_sid:
        row.content_sid = spec.content_sid
        row.content_variables = templates.content_variables(spec, row.variables, locale)


def render_choices(session, buttons, locale):
    """Button titles rendered in the debtor's locale: [{"title", "payload"}]."""
    choices = []
    for button in buttons or []:
        title = button.get("title")
        if button.get("title_template"):
            title, _ = templates.render(
                session, button["title_template"], locale, button.get("title_vars")
            )
        choices.append({"title": title, "payload": button["payload"]})
    return choices


def append_choices(body, choices):
    """Choices as numbered lines: the same on SMS and WhatsApp; a reply "2" picks the second."""
    if not choices:
        return body
    lines = [body, ""] + [f"{n}. {c['title']}" for n, c in enumerate(choices, start=1)]
    return "\n".join(lines)


def chosen_payload(session, inbound):
    """The payload of the numbered choice the debtor typed ("2"), if the bot's last message
    offered choices; None otherwise."""
    match = _CHOICE.match(inbound.body or "")
    if not match:
        return None
    last = session.execute(
        select(Message)
        .where(Message.conversation_id == inbound.conversation_id, Message.direction == "out")
        .where(Message.created_at <= inbound.created_at)  # what was on the debtor's screen
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    number = int(match.group(1))
    if last is None or not last.buttons or not 1 <= number <= len(last.buttons):
        return None
    return last.buttons[number - 1]["payload"]
