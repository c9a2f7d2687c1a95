"""Access to the bot's app, database session and the conversation behind a Rasa tracker, and
the base classes that keep database work off the action server's event loop."""

import asyncio
from abc import ABCMeta, abstractmethod
from contextlib import contextmanager

from rasa_sdk import Action, FormValidationAction
from rasa_sdk.events import FollowupAction

from bot import clock, create_app
from bot.conversations import learning, verification
from bot.db import session as db_session
from bot.models import Conversation

_app = None


def app():
    global _app
    if _app is None:
        _app = create_app()
    return _app


@contextmanager
def conversation_scope(tracker):
    """Yield (session, conversation) for the tracker's sender; commit on success."""
    with app().app_context():
        s = db_session()
        try:
            conversation_id = int(tracker.sender_id)
        except (TypeError, ValueError):
            conversation_id = None
        conversation = s.get(Conversation, conversation_id) if conversation_id else None
        try:
            yield s, conversation
            s.commit()
        except Exception:
            s.rollback()
            raise


def say(dispatcher, template, **variables):
    """Send a template key with variables; the worker renders it in the debtor's locale."""
    dispatcher.utter_message(json_message={"template": template, "vars": variables})


def say_with_choices(dispatcher, template, buttons, **variables):
    """A template with choices: numbered lines on every channel; "2" picks the second."""
    dispatcher.utter_message(
        json_message={"template": template, "vars": variables, "buttons": buttons}
    )


def say_message(dispatcher, message):
    """Say a template message from a domain service: {"template", "vars"[, "buttons"]}."""
    if message.get("buttons"):
        say_with_choices(dispatcher, message["template"], message["buttons"], **message["vars"])
    else:
        say(dispatcher, message["template"], **message["vars"])


def is_verified(conversation):
    return conversation is not None and verification.is_verified(conversation)


def bot_spoke_this_turn(tracker, templates=None):
    """True when the bot has already said something since the debtor's last message (one of
    templates, when given: a form's validator that explained why it asks again; a "verified"
    said before a form started must not silence the form's question)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "bot":
            if templates is None:
                return True
            custom = (event.get("data") or {}).get("custom") or {}
            if custom.get("template") in templates:
                return True
    return False


def listen():
    """The events that end a turn: the bot waits for the debtor. An action that answers
    returns them, so Rasa never predicts a second answer to the same message (a clarification
    predicted again and again until Rasa's limit of ten)."""
    return [FollowupAction("action_listen")]


def asked_before(tracker):
    """The custom payload ({"template", "vars", "buttons"}) of the bot's last message before
    the debtor's latest one: the question being answered; {} when the bot said nothing since
    the debtor's previous message."""
    seen_user = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            if seen_user:
                return {}
            seen_user = True
        elif kind == "bot" and seen_user:
            custom = (event.get("data") or {}).get("custom")
            return custom if isinstance(custom, dict) else {}
    return {}


def first_name(conversation):
    if conversation is None or conversation.debtor is None:
        return ""
    return conversation.debtor.full_name.split()[0]


def today_for(conversation):
    """The debtor's date: "mañana" means their tomorrow, not the server's."""
    return clock.today_for(conversation.debtor if conversation else None)


def understanding(tracker):
    """(message id, text, language, best intent, its confidence) of the debtor's latest
    message as the language model read it (the intent under a fallback, not the fallback)."""
    latest = tracker.latest_message or {}
    metadata = latest.get("metadata") or {}
    ranking = [i for i in latest.get("intent_ranking") or [] if i.get("name") != "nlu_fallback"]
    best = ranking[0] if ranking else latest.get("intent") or {}
    language = (metadata.get("locale") or "").split("-")[0] or None
    return (
        metadata.get("message_id"),
        latest.get("text") or "",
        language,
        best.get("name"),
        best.get("confidence"),
    )


def note_understanding(session, tracker, fell_back=False):
    """Keep the latest message for the learning loop when the bot fell back on it or was unsure
    of it; never an answer to the ID question."""
    if tracker.active_loop.get("name") == "verification_form":
        return None
    message_id, text, language, intent, confidence = understanding(tracker)
    if not learning.worth_reviewing(confidence, fell_back):
        return None
    return learning.record(session, message_id, text, language, intent, confidence, fell_back)


class BotAction(Action, metaclass=ABCMeta):
    """An action whose work (act) runs in a worker thread: its database reads and writes never
    stall the action server's event loop, which serves every conversation. (Abstract, so the
    action server registers only its subclasses.)"""

    @abstractmethod
    def name(self):
        """The action's name in the domain."""

    @abstractmethod
    def act(self, dispatcher, tracker, domain):
        """The action's work; returns the events."""

    async def run(self, dispatcher, tracker, domain):
        return await asyncio.to_thread(self._act_and_note, dispatcher, tracker, domain)

    def _act_and_note(self, dispatcher, tracker, domain):
        events = self.act(dispatcher, tracker, domain)
        _id, _text, _language, _intent, confidence = understanding(tracker)
        if confidence is not None and confidence < learning.LOW_CONFIDENCE:
            with conversation_scope(tracker) as (s, _conversation):
                note_understanding(s, tracker)
        return events


class BotFormValidation(FormValidationAction, metaclass=ABCMeta):
    """A form validator run whole in a worker thread (with its own event loop), for the same
    reason as BotAction: its extract_ and validate_ methods read the database."""

    @abstractmethod
    def name(self):
        """validate_<form name>."""

    async def run(self, dispatcher, tracker, domain):
        return await asyncio.to_thread(asyncio.run, super().run(dispatcher, tracker, domain))
