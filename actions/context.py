"""Access to the bot's app, database session and the conversation behind a Rasa tracker, and
the base classes that keep database work off the action server's event loop."""

import asyncio
from abc import ABCMeta, abstractmethod
from contextlib import contextmanager

from rasa_sdk import Action, FormValidationAction

from bot import clock, create_app
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


def bot_spoke_this_turn(tracker):
    """True when the bot has already said something since the debtor's last message."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "bot":
            return True
    return False


def first_name(conversation):
    if conversation is None or conversation.debtor is None:
        return ""
    return conversation.debtor.full_name.split()[0]


def today_for(conversation):
    """The debtor's date: "mañana" means their tomorrow, not the server's."""
    return clock.today_for(conversation.debtor if conversation else None)


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
        return await asyncio.to_thread(self.act, dispatcher, tracker, domain)


class BotFormValidation(FormValidationAction, metaclass=ABCMeta):
    """A form validator run whole in a worker thread (with its own event loop), for the same
    reason as BotAction: its extract_ and validate_ methods read the database."""

    @abstractmethod
    def name(self):
        """validate_<form name>."""

    async def run(self, dispatcher, tracker, domain):
        return await asyncio.to_thread(asyncio.run, super().run(dispatcher, tracker, domain))
