"""One turn: the debtor's pending messages answered in arrival order, through Rasa, each reply
stored before it is sent so that a retried turn never sends it twice.

An outage (Rasa or Twilio not answering) is retried for OUTAGE_GIVE_UP_MINUTES from the first
try of the message itself; only then does the message go to the agents, and it is tried again
on its own once the dependency answers (revive_failed).
"""

import logging
from datetime import timedelta

from flask import current_app
from redis.exceptions import LockError
from sqlalchemy import select

from bot import audit, metrics, statuses
from bot.clock import utcnow
from bot.conversations import media, rasa_client
from bot.conversations.escalation import mark_for_agent
from bot.conversations.language import follow_language
from bot.conversations.replies import chosen_payload, record_replies
from bot.models import Conversation, Message
from bot.outbound.compose import conversation_locale
from bot.outbound.deliver import ProviderUnavailable, deliver

log = logging.getLogger(__name__)
In, Out = statuses.Inbound, statuses.Outbound
# Why a message was given up, kept in its error_code: these are tried again once the
# dependency answers; any other reason stays with the agents.
BOT_DOWN, TWILIO_DOWN = "bot_unavailable", "twilio_down"
# A reply given up while Twilio was down: never sent, or maybe taken (checked before resending).
UNSENT, UNCERTAIN = "unsent", "uncertain"


def outage_over(message, now=None):
    """True once the message has been tried for OUTAGE_GIVE_UP_MINUTES without success."""
    first = message.first_attempt_at
    bound = timedelta(minutes=current_app.config["OUTAGE_GIVE_UP_MINUTES"])
    return first is not None and (now or utcnow()) - first >= bound


def answer_pending(session, conversation_id, lock, client, final_attempt):
    """Answer every unprocessed message of the conversation, oldest first, under its lock.

    An outage raises (the job retries) until outage_over(message); then the message goes to
    the agents, losing nothing. final_attempt() says whether the job has retries left, for
    errors that are not outages (a bug does not fix itself in half an hour).
    """
    while (message := next_pending(session, conversation_id)) is not None:
        try:
            _answer(session, message, lock, client)
        except LockError:
            raise  # the lock expired and another worker holds the conversation: leave it to it
        except (rasa_client.RasaUnavailable, ProviderUnavailable):
            raise
        except Exception as exc:
            if not final_attempt():
                raise
            session.rollback()
            give_up(session, message, "processing_error", exc)


def next_pending(session, conversation_id):
    """The conversation's oldest inbound message not answered yet, or None."""
    stmt = (
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.direction == statuses.IN)
        .where(Message.status == In.RECEIVED)
        .order_by(Message.id)
        .limit(1)
    )
    return session.execute(stmt).scalar_one_or_none()


def _answer(session, message, lock, client):
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
            answers = _ask_rasa(session, message, lock)
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
            if not outage_over(message):
                raise
            _fail_unsent(session, replies, exc)
            give_up(session, message, "delivery_failure", exc, code=TWILIO_DOWN)
            return
    message.status = In.PROCESSED
    message.processed_at = utcnow()
    metrics.observe_turn(message.created_at, message.processed_at)
    if message.error_code in (BOT_DOWN, TWILIO_DOWN):  # answered on a retry after an outage
        message.error_code = None
        _leave_outage_queue(session, conversation)
    session.commit()


def _media_answers(message):
    """The answer to a voice note or other media (Rasa reads text only); None for a message
    Rasa should read (words, or words with a file that is neither)."""
    found = media.kind(message)
    if found is None or (found == media.OTHER and (message.body or "").strip()):
        return None
    return media.replies(message)


def _fail_unsent(session, replies, exc):
    """Replies Twilio has not confirmed: failed for now, and whether they may have been taken."""
    for row in replies:
        if row.status in Out.UNSENT:
            row.error_code = UNCERTAIN if row.status == Out.SENDING else UNSENT
            row.status, row.error_message = Out.FAILED, str(exc)[:256]


def _leave_outage_queue(session, conversation):
    """The bot answered after all: an escalation that only said it could not leaves the queue."""
    if conversation.state != statuses.Conversation.AGENT and conversation.agent_reason in (
        "bot_unavailable",
        "delivery_failure",
    ):
        conversation.needs_agent = False
        conversation.agent_reason = None
        conversation.escalated_at = None
        audit.record(session, "worker", "conversation.outage_over", conversation, {})


def _ask_rasa(session, message, lock):
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
    if message.first_attempt_at is None:
        message.first_attempt_at = utcnow()
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
            with metrics.Timer(metrics.RASA_LATENCY):
                answers = rasa_client.send(conversation.id, text, metadata)
        return answers
    except rasa_client.RasaUnavailable as exc:
        if not outage_over(message):
            raise
        give_up(session, message, "bot_unavailable", exc, code=BOT_DOWN)
        return None


def _hold_for_agent(session, message, replies):
    for row in replies:
        if row.status == Out.PENDING:
            row.status = Out.SUPPRESSED
            row.error_message = "conversation taken by an agent"
    message.status = In.FOR_AGENT
    session.commit()


def give_up(session, message, reason, exc, code=None):
    """Retries are spent: keep the message for agents, lose nothing. code (BOT_DOWN,
    TWILIO_DOWN) marks an outage: the message is tried again once the dependency answers."""
    log.error("message %s handed to agents after retries: %s", message.id, exc)
    message.status = In.FAILED
    message.error_code = code
    message.error_message = str(exc)[:256]
    mark_for_agent(session, message.conversation, reason)
    audit.record(session, "worker", "message.failed", message, {"reason": reason})
    session.commit()


def failed_by_outage(session, now, code):
    """Inbound messages given up during an outage of code's dependency, recent enough to answer
    (FAILED_RETRY_HOURS), in conversations no agent holds."""
    since = now - timedelta(hours=current_app.config["FAILED_RETRY_HOURS"])
    return (
        session.execute(
            select(Message)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Message.direction == statuses.IN, Message.status == In.FAILED)
            .where(Message.error_code == code, Message.created_at >= since)
            .where(Conversation.state != statuses.Conversation.AGENT)
            .order_by(Message.id)
            .limit(1000)
        )
        .scalars()
        .all()
    )


def revive(session, message):
    """Make a message given up during an outage pending again (the caller asks for its job):
    a new outage bound starts, and its replies go out unless Twilio may have taken them."""
    for row in session.execute(select(Message).where(Message.reply_to_id == message.id)).scalars():
        if row.status == Out.FAILED and row.error_code in (UNSENT, UNCERTAIN):
            row.status = Out.SENDING if row.error_code == UNCERTAIN else Out.PENDING
            row.error_code = row.error_message = None
    message.status = In.RECEIVED
    message.first_attempt_at = None
    audit.record(session, "worker", "message.retried", message, {"reason": message.error_code})
