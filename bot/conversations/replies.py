"""The bot's answers to one inbound message: rendered in the debtor's language, with their
choices as numbered lines (or WhatsApp quick-reply buttons), stored before anything is sent."""

import logging
import re
import unicodedata

from sqlalchemy import select

from bot import clock, statuses
from bot.conversations.escalation import mark_for_agent
from bot.models import Message, TemplateKey
from bot.outbound.compose import conversation_locale
from bot.templates import store as templates
from bot.templates.voice import register_for

log = logging.getLogger(__name__)
_CHOICE = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")
# Short answers to a question with one offered choice: every word must be one of these (a
# "sí" followed by anything else is left to the language model).
_YES_WORDS = frozenset(
    """si sii siii ok okay okey oki ok. va vale dale listo bueno perfecto claro correcto exacto
    sale de acuerdo esta bien sirve me ese esa dia fecha ese. por favor porfa gracias muchas
    yes yeah yep yup sure fine great perfect that day date works sounds good please thanks
    thank you alright go ahead do it mandalo mandamelo envialo hagale hazlo sounds""".split()
)
_YES_HEADS = frozenset(
    "si sii siii ok okay okey oki va vale dale listo bueno perfecto claro correcto exacto sale "
    "yes yeah yep yup sure fine great perfect alright hagale me ese esa sounds that".split()
)
# Not "no es mío" (no, it is not mine): only a bare no.
_NO_WORDS = frozenset("no nop nope nel para nada gracias thanks not really".split())


def _words(text):
    plain = unicodedata.normalize("NFKD", (text or "").lower())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return re.findall(r"[a-z]+", plain)


def short_answer(text):
    """ "affirm" for a short yes ("dale", "sí, ese día", "ok perfecto"), "deny" for a short
    no ("no", "nop"), else None. Longer messages are the language model's to read."""
    words = _words(text)
    if not words or len(words) > 6:
        return None
    if words[0] in _YES_HEADS and all(w in _YES_WORDS for w in words):
        return "affirm"
    if words[0] in ("no", "nop", "nope", "nel") and all(w in _NO_WORDS for w in words):
        return "deny"
    return None


def record_replies(session, inbound, template_messages):
    """Render the bot's answers and store them as pending outbound rows, in order."""
    conversation = inbound.conversation
    locale = conversation_locale(conversation)
    register = register_for(session, conversation.debtor)
    today = clock.today_for(conversation.debtor)
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
                row.body, _used = templates.render(
                    session, item["template"], locale, row.variables, register, today
                )
            else:
                row.body = item["raw"]
            row.buttons = render_choices(session, item.get("buttons"), locale, register) or None
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


def render_choices(session, buttons, locale, register=None):
    """Button titles rendered in the debtor's locale: [{"title", "payload"}], plus "on" when a
    short yes (or no) stands for that choice."""
    choices = []
    for button in buttons or []:
        title = button.get("title")
        if button.get("title_template"):
            title, _ = templates.render(
                session, button["title_template"], locale, button.get("title_vars"), register
            )
        choice = {"title": title, "payload": button["payload"]}
        if button.get("on") in ("affirm", "deny"):
            choice["on"] = button["on"]
        choices.append(choice)
    return choices


def append_choices(body, choices):
    """Choices as numbered lines: the same on SMS and WhatsApp; a reply "2" picks the second."""
    if not choices:
        return body
    lines = [body, ""] + [f"{n}. {c['title']}" for n, c in enumerate(choices, start=1)]
    return "\n".join(lines)


def chosen_payload(session, inbound):
    """The payload of the choice the debtor's answer picks, if the bot's last message offered
    choices: a number ("2"), or a short yes or no ("dale", "sí, ese día", "no") where the bot
    marked the one choice it stands for; None otherwise."""
    body = inbound.body or ""
    match = _CHOICE.match(body)
    answer = None if match else short_answer(body)
    if not match and answer is None:
        return None
    last = session.execute(
        select(Message)
        .where(Message.conversation_id == inbound.conversation_id, Message.direction == "out")
        .where(Message.created_at <= inbound.created_at)  # what was on the debtor's screen
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if last is None or not last.buttons:
        return None
    if match:
        number = int(match.group(1))
        return last.buttons[number - 1]["payload"] if 1 <= number <= len(last.buttons) else None
    marked = [b for b in last.buttons if b.get("on") == answer]
    return marked[0]["payload"] if len(marked) == 1 else None
