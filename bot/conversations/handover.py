"""Agents taking over a conversation from the bot, and giving it back."""

from sqlalchemy import case, or_, select, update

from bot import audit, hooks, inputs, outbox, statuses
from bot.clock import utcnow
from bot.contact.window import window_open
from bot.conversations import rasa_client
from bot.conversations.locks import holding
from bot.models import Conversation, ConversationNote, TemplateKey
from bot.outbound.compose import OutsideWindow, queue_outbound
from bot.users import actor

AGENT = statuses.Conversation.AGENT

# Lower is more urgent; oldest first within a priority.
PRIORITY = {
    "dispute": 1,
    "hardship": 1,
    "delivery_failure": 1,
    "failed_verification": 2,
    "already_paid": 2,
    "receipt": 2,
    "request_agent": 3,
    "misunderstood": 3,
    "wrong_number": 4,
}
DEFAULT_PRIORITY = 3
REASON_LABELS = {
    "request_agent": "Asked for a person",
    "dispute": "Dispute",
    "hardship": "Hardship",
    "failed_verification": "Failed verification",
    "misunderstood": "Repeated misunderstanding",
    "already_paid": "Already-paid claim",
    "receipt": "Payment receipt to verify",
    "delivery_failure": "Delivery failure",
    "bot_unavailable": "Bot unavailable",
    "processing_error": "Processing error",
    "render_error": "Message template error",
    "wrong_number": "Wrong number",
}


class HandoverError(ValueError):
    """An agent action that cannot be done now (the message says why)."""


class AlreadyDone(HandoverError):
    """The action was already done (a double click, another agent): the message says what
    stands, shown as information rather than an error."""


def priority(reason):
    return PRIORITY.get(reason or "", DEFAULT_PRIORITY)


def reason_label(reason):
    return REASON_LABELS.get(reason or "", (reason or "other").replace("_", " ").capitalize())


def queue(session):
    """Conversations waiting for or held by an agent, most urgent and oldest first."""
    urgency = case(
        *[(Conversation.agent_reason == r, p) for r, p in PRIORITY.items()],
        else_=DEFAULT_PRIORITY,
    )
    stmt = (
        select(Conversation)
        .where(or_(Conversation.needs_agent.is_(True), Conversation.state == AGENT))
        .order_by(urgency, Conversation.escalated_at.is_(None), Conversation.escalated_at)
    )
    return session.execute(stmt).scalars().all()


def claim(session, conversation_id, user):
    """Lock the conversation to this agent; False when another agent already holds it.

    One conditional UPDATE decides between two agents clicking at once.
    """
    result = session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .where(or_(Conversation.agent_id.is_(None), Conversation.agent_id == user.id))
        .values(state=AGENT, agent_id=user.id, claimed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.rollback()
        return False
    conversation = session.get(Conversation, conversation_id)
    session.refresh(conversation)
    audit.record(session, actor(user), "conversation.claimed", conversation, {"agent_id": user.id})
    outbox.later(session, "sync_bot", conversation_id)
    return True


def clean_text(text):
    """Form text without control characters (PostgreSQL refuses a NUL) or surrounding blanks."""
    return inputs.clean_text(text)


def require_holder(conversation, user):
    if conversation.state != AGENT or conversation.agent_id != user.id:
        raise HandoverError("Claim the conversation before acting on it.")


def agent_reply(session, conversation, user, text):
    """Queue the agent's free text to the debtor (inside the window); return the message."""
    require_holder(conversation, user)
    text = clean_text(text)
    if not text:
        raise HandoverError("Write a reply first.")
    if len(text) > 1600:
        raise HandoverError("A reply can have at most 1,600 characters.")
    try:
        return _outbound(session, conversation, user, body=text)
    except OutsideWindow:
        raise HandoverError(
            "WhatsApp's 24-hour window is closed: only an approved template can be sent."
        ) from None


def agent_template(session, conversation, user, key, variables):
    """Queue a template message from the agent: outside WhatsApp's window it goes as the key's
    approved template (Content SID), and a key without one is refused."""
    require_holder(conversation, user)
    try:
        return _outbound(session, conversation, user, key=key, variables=variables)
    except OutsideWindow:
        raise HandoverError(
            f"WhatsApp's 24-hour window is closed and {key} has no approved template "
            "(an admin can link one in Admin > Templates)."
        ) from None


def _outbound(session, conversation, user, key=None, variables=None, body=None):
    row = queue_outbound(session, conversation, key, variables, body, user.id)
    audit.record(
        session,
        actor(user),
        "conversation.agent_message",
        conversation,
        {"template": key, "chars": len(row.body)},
    )
    return row


def add_note(session, conversation, user, text):
    require_holder(conversation, user)
    text = clean_text(text)
    if not text:
        raise HandoverError("A note needs some text.")
    note = ConversationNote(conversation_id=conversation.id, author_id=user.id, body=text[:4000])
    session.add(note)
    audit.record(session, actor(user), "conversation.note_added", conversation, {})
    return note


def release(session, conversation, user):
    """Put the conversation back in the queue for another agent; the bot answers meanwhile."""
    require_holder(conversation, user)
    conversation.state = statuses.Conversation.BOT
    conversation.agent_id = None
    audit.record(session, actor(user), "conversation.released", conversation, {})
    outbox.later(session, "sync_bot", conversation.id)
    hooks.conversation_released.send(session, conversation)


def take_over(session, conversation_id, admin, reason):
    """An admin takes a conversation held by another agent (who left, say), with a reason."""
    reason = clean_text(reason)[:200]
    if admin.role != "admin":
        raise HandoverError("Only an admin can take over another agent's conversation.")
    if not reason:
        raise HandoverError("Taking over needs a reason.")
    conversation = session.get(Conversation, conversation_id)
    previous = conversation.agent_id
    result = session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.agent_id == previous)
        .values(state=AGENT, agent_id=admin.id, claimed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise HandoverError("The conversation changed meanwhile; reload and try again.")
    session.refresh(conversation)
    audit.record(
        session,
        actor(admin),
        "conversation.taken_over",
        conversation,
        {"from_agent_id": previous, "reason": reason},
    )
    outbox.later(session, "sync_bot", conversation.id)
    return conversation


def _settle(session, conversation, state):
    """The agent is done: nobody holds it, it leaves the queue, Rasa resumes."""
    outbox.later(session, "sync_bot", conversation.id)
    conversation.state = state
    conversation.agent_id = None
    conversation.needs_agent = False
    conversation.agent_reason = None
    conversation.escalated_at = None
    hooks.conversation_released.send(session, conversation)


def hand_back(session, conversation, user):
    """Give the conversation back to the bot and tell the debtor; returns the message."""
    require_holder(conversation, user)
    _settle(session, conversation, statuses.Conversation.BOT)
    audit.record(session, actor(user), "conversation.handed_back", conversation, {})
    try:
        return _outbound(session, conversation, user, key="agent.handed_back", variables={})
    except OutsideWindow:
        return None  # the debtor has been silent a day: the bot greets them when they write


def close(session, conversation, user, reason):
    """Close the conversation (resolved); the next debtor message starts with the bot."""
    require_holder(conversation, user)
    _settle(session, conversation, statuses.Conversation.CLOSED)
    audit.record(
        session,
        actor(user),
        "conversation.closed",
        conversation,
        {"reason": clean_text(reason)[:200] or "resolved"},
    )


# Templates an agent may send as they are; outside WhatsApp's window only those linked to an
# approved Content SID reach the debtor.
AGENT_TEMPLATES = ("agent.follow_up",)


def default_variables(session, conversation):
    debtor = conversation.debtor
    first = (debtor.full_name.split() or [""])[0] if debtor else ""
    return {"first_name": first}


def agent_template_keys(session, conversation):
    """The template keys the agent can pick now: outside WhatsApp's window only those with an
    approved template."""
    if window_open(conversation):
        return list(AGENT_TEMPLATES)
    approved = session.execute(
        select(TemplateKey.key).where(
            TemplateKey.key.in_(AGENT_TEMPLATES), TemplateKey.content_sid.isnot(None)
        )
    ).scalars()
    return sorted(approved)


def sync_bot(session, conversation_id):
    """Pause Rasa's tracker while an agent holds the conversation; resume it otherwise.

    Runs under the conversation's lock, so it never interleaves with a bot turn (a resume
    resets forms); bot_paused always records what was last done to Rasa. When who holds it
    changed during the call, another sync is asked for."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        return
    session.commit()
    with holding(conversation_id):
        session.refresh(conversation)
        held = conversation.state == AGENT
        if held == conversation.bot_paused:
            return
        session.commit()  # no transaction open across the call to Rasa
        (rasa_client.pause if held else rasa_client.resume)(conversation_id)
        conversation.bot_paused = held
        session.commit()
        session.refresh(conversation)
        if (conversation.state == AGENT) != held:  # it changed during the call: match it
            outbox.later(session, "sync_bot", conversation_id)
            session.commit()
