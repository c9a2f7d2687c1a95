"""What the debtor says about being contacted, in the chat: stop writing on this channel (then,
once, whether they mean every channel), stop everywhere, yes you may write here (consent where
the law asks for it), or this is not their number. The debtor's own words are kept."""

from sqlalchemy import select

from bot import audit, statuses
from bot.clock import utcnow
from bot.contact import consent, preferences
from bot.contact.decision import scope_open
from bot.contact.rules import load_rules
from bot.conversations.escalation import mark_for_agent
from bot.models import Message


def last_inbound(session, conversation):
    """The debtor's latest message on the conversation (the words an opt-out keeps)."""
    return session.execute(
        select(Message)
        .where(Message.conversation_id == conversation.id, Message.direction == statuses.IN)
        .order_by(Message.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def _evidence(session, conversation, words):
    message = last_inbound(session, conversation)
    text = words or (message.body if message is not None else None)
    return text, (message.id if message is not None else None)


def opt_out(session, conversation, actor, words=None, now=None):
    """Record that the conversation's number wants no proactive messages on its channel, with
    the debtor's words. Returns "ask_all" the first time (then ask, once, whether they mean
    every channel), "stopped" when recorded without the question, or None when it was already
    recorded (so the confirmation is sent once)."""
    now = now or utcnow()
    debtor = conversation.debtor
    if debtor is None:
        audit.record(session, actor, "conversation.opt_out", conversation, {})
        return "stopped"
    words, message_id = _evidence(session, conversation, words)
    if not preferences.record_opt_out(
        session, debtor, conversation.channel, actor, now, words, "chat", message_id
    ):
        return None
    audit.record(session, actor, "conversation.opt_out", conversation, {})
    if debtor.opt_out_scope_asked_at is None and not preferences.opted_out_everywhere(debtor):
        debtor.opt_out_scope_asked_at = now
        return "ask_all"
    return "stopped"


def opt_out_all(session, conversation, actor, words=None, now=None):
    """A clear "all": no proactive message on any channel. The channels newly stopped."""
    debtor = conversation.debtor
    if debtor is None:
        return []
    words, message_id = _evidence(session, conversation, words)
    stopped = preferences.record_opt_out_all(
        session, debtor, actor, now or utcnow(), words, "chat", message_id
    )
    if debtor.opt_out_scope_asked_at is not None and debtor.opt_out_scope_answered_at is None:
        debtor.opt_out_scope_answered_at = now or utcnow()
    audit.record(session, actor, "conversation.opt_out_all", conversation, {"channels": stopped})
    return stopped


def scope_question_open(conversation, now=None):
    """True when the debtor was asked "this channel or all?" and has not answered yet."""
    debtor = conversation.debtor
    if debtor is None:
        return False
    return scope_open(debtor.opt_out_scope_asked_at, debtor.opt_out_scope_answered_at, now)


def answer_scope(session, conversation, now=None):
    """The answer was "this channel only": reminders on the others may go again."""
    debtor = conversation.debtor
    if debtor is not None and scope_question_open(conversation, now):
        debtor.opt_out_scope_answered_at = now or utcnow()
        audit.record(session, "debtor", "contact.opt_out_scope", debtor, {"scope": "channel"})


def consent_to_ask(session, conversation, now=None):
    """True once per channel when the debtor's country needs consent per channel and this one
    has none recorded: the bot asks (and notes that it asked)."""
    debtor = conversation.debtor
    if debtor is None or conversation.consent_asked_at is not None:
        return False
    rule = load_rules(session, (now or utcnow()).date()).get(debtor.country, debtor.region)
    records = consent.latest(session, [debtor.id]).get(debtor.id, {})
    if not consent.needs_asking(rule, debtor, conversation.channel, records):
        return False
    conversation.consent_asked_at = now or utcnow()
    return True


def give_consent(session, conversation, words=None, now=None):
    """The debtor agreed in the chat to reminders on this channel: recorded with their words
    (and, when it answered the bot's question, which question: a bare "1" proves little)."""
    words, message_id = _evidence(session, conversation, words)
    if conversation.consent_asked_at is not None:
        words = (
            f"{words} (answer to consent.ask of {conversation.consent_asked_at:%Y-%m-%d %H:%M} UTC)"
        )
    return consent.grant_in_chat(session, conversation, words, message_id, now)


def mark_wrong_number(session, conversation, actor):
    """The number is not the debtor's: no further contact to it; agents look for another."""
    debtor = conversation.debtor
    if debtor is not None and preferences.record_wrong_number(
        session, debtor, conversation.channel, actor
    ):
        mark_for_agent(session, conversation, "wrong_number")
    conversation.state = statuses.Conversation.CLOSED
    audit.record(session, actor, "conversation.closed", conversation, {"reason": "wrong_number"})
