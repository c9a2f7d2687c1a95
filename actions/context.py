"""Access to the bot's app, database session and the conversation behind a Rasa tracker."""

from contextlib import contextmanager

from bot import create_app
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
