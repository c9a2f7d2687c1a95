"""Trackers and dispatchers for the action tests."""

import asyncio

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher


def tracker(
    conversation,
    slots=None,
    intent="inform",
    text="",
    events=None,
    entities=None,
    active_loop=None,
    confidence=0.9,
    message_id=None,
):
    latest = {
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": [{"name": intent, "confidence": confidence}],
        "entities": entities or [],
        "text": text,
        "metadata": {"message_id": message_id, "locale": "es-CO"},
    }
    return Tracker(
        str(conversation.id),
        slots or {},
        latest,
        events or [],
        False,
        None,
        active_loop or {},
        "action_listen",
    )


def after(question, intent="affirm"):
    """Events of a bot question (its custom payload) and the debtor's answer to it."""
    return [
        {"event": "bot", "data": {"custom": question}},
        {"event": "user", "parse_data": {"intent": {"name": intent}}},
    ]


def run(action, conversation_tracker):
    """(dispatcher, events) of running an action (or a form validator) on a tracker."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, conversation_tracker, {}))
    return dispatcher, events


def sent(dispatcher):
    """[(template, vars)] the action said."""
    return [(m["custom"]["template"], m["custom"]["vars"]) for m in dispatcher.messages]


def choices(dispatcher, index=0):
    return [b["payload"] for b in dispatcher.messages[index]["custom"].get("buttons") or []]
