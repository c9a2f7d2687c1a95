"""One turn: the debtor's pending messages answered in arrival order, through Rasa, each reply
stored before it is sent so that a retried turn never sends it twice."""

import logging

from redis.exceptions import LockError
from sqlalchemy import select

from bot import audit, statuses
from bot.clock import utcnow
from bot.conversations import media, rasa_client
from bot.conversations.escalation import mark_for_agent
from bot.conversations.language import follow_language
from bot.conversations.replies import chosen_payload, record_replies
from bot.models import Message
from bot.outbound.compose import conversation_locale
from bot.outbound.deliver import ProviderUnavailable, deliver

log = logging.getLogger(__name__)
In, Out = statuses.Inbound, statuses.Outbound


def answer_pending(session, conversation_id, lock, client, final_attempt):
    """Answer every unprocessed message of the conversation, oldest first, under its lock.

    final_attempt() says whether the job running this has retries left: until then an outage
    raises (the job retries); on the last one the message goes to the agents, losing nothing.
    """
    while (message := _next_pending(session, conversation_id)) is not None:
        try:
            _answer(session, message, lock, client, final_attempt)
        except LockError:
            raise  # the lock expired and another worker holds the conversation: leave it to it
        except Exception as exc:
            if not final_attempt():
                raise
            session.rollback()
            give_up(session, message, "processing_error", exc)


def _next_pending(session, conversation_id):
    stmt = (
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.direction == statuses.IN)
        .where(Message.status == In.RECEIVED)
        .order_by(Message.id)
        .limit(1)
    )
    return session.execute(stmt).scalar_one_or_none()


def _answer(session, message, lock, client, final_attempt):
    conversation = message.conversation
    session.refresh(conversation)  # an agent may have taken it, or an action flagged it
    if conversation.state == statuses.Conversation.AGENT:
        message.status = In.FOR_AGENT
        session.commit()
        return
    if media.kind(message) == media.RECEIPT and not message.button_payload:
        # A payment proof (its words are kept with it): its own job answers once it has the
        # file; Rasa would start an already-paid question on top of it.
        message.status = In.PROCESSED
        message.processed_at = utcnow()
        session.commit()
        return
    replies = (
        session.execute(
            select(Message).where(Message.reply_to_id == message.id).order_by(Message.seq)
        )
        .scalars()
        .all()
    )
    if not replies:
        answers = _media_answers(message)
        if answers is None:
            answers = _ask_rasa(session, message, lock, final_attempt)
            if answers is None:
                return
            answers = rasa_client.to_template_messages(answers)
        replies = record_replies(session, message, answers)
        session.commit()
    for row in replies:
        lock.reacquire()
        session.refresh(conversation)
        if conversation.state == statuses.Conversation.AGENT:
            # An agent claimed it while Rasa was thinking: the agent speaks now, not the bot.
            _hold_for_agent(session, message, replies)
            return
        try:
            deliver(session, row, client)
        except ProviderUnavailable as exc:
            if not final_attempt():
                raise
            row.status, row.error_message = Out.FAILED, str(exc)[:256]
            give_up(session, message, "delivery_failure", exc)
            return
    message.status = In.PROCESSED
    message.processed_at = utcnow()
    session.commit()


def _media_answers(message):
    """The answer to a voice note or other media (Rasa reads text only); None for a message
    Rasa should read (words, or words with a file that is neither)."""
    found = media.kind(message)
    if found is None or (found == media.OTHER and (message.body or "").strip()):
        return None
    return media.replies(message)


def _ask_rasa(session, message, lock, final_attempt):
    """Rasa's answers to message (asked once per attempt; a retry first reads the answers an
    earlier attempt may have got); None when Rasa is down on the last attempt."""
    conversation = message.conversation
    if not message.button_payload:
        follow_language(session, conversation, message.body)
    metadata = {
        "channel": conversation.channel,
        "locale": conversation_locale(conversation),
        "message_id": message.id,
    }
    text = message.button_payload or chosen_payload(session, message) or message.body or ""
    message.attempts += 1
    session.commit()  # never hold a database transaction across an outside call
    lock.reacquire()
    try:
        if conversation.bot_paused:  # an agent gave it back but Rasa was not resumed yet
            rasa_client.resume(conversation.id)
            conversation.bot_paused = False
            session.commit()
        answers = None
        if message.attempts > 1:  # an earlier attempt may have reached Rasa
            answers = rasa_client.answers_already_given(conversation.id, message.id)
        if answers is None:
            answers = rasa_client.send(conversation.id, text, metadata)
        return answers
    except rasa_client.RasaUnavailable as exc:
        if not final_attempt():
            raise
        give_up(session, message, "bot_unavailable", exc)
        return None


def _hold_for_agent(session, message, replies):
    for row in replies:
        if row.status == Out.PENDING:
            row.status = Out.SUPPRESSED
            row.error_message = "conversation taken by an agent"
    message.status = In.FOR_AGENT
    session.commit()


def give_up(session, message, reason, exc):
    """Retries are spent: keep the message for agents, lose nothing."""
    log.error("message %s handed to agents after retries: %s", message.id, exc)
    message.status = In.FAILED
    message.error_message = str(exc)[:256]
    mark_for_agent(session, message.conversation, reason)
    audit.record(session, "worker", "message.failed", message, {"reason": reason})
    session.commit()
