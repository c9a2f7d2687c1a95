"""Requests the bot does not automate yet go to the agent queue; opt-outs (one channel or
all) and consent given in the chat are recorded with the debtor's words."""

import re
import unicodedata

from rasa_sdk.events import FollowupAction, SlotSet

from bot import audit
from bot.conversations import agents, contact, waiting
from bot.conversations.escalation import mark_for_agent

from .context import (
    BotAction,
    app,
    asked_before,
    conversation_scope,
    listen,
    say,
    say_with_choices,
)
from .menu import MENU_CHOICES

# The question asked before a number is marked as not the debtor's: a yes (or the same words
# again) confirms it, a no goes on with verification.
WRONG_NUMBER_CHOICES = [
    {"title_template": "button.wrong_yes", "payload": "/wrong_number", "on": "affirm"},
    {"title_template": "button.wrong_no", "payload": "/deny", "on": "deny"},
]
# Answers to that question in the debtor's words: "no es mío" is a yes (it is a wrong number),
# "no no, sí es mi número" a no.
_NOT_THEIRS = re.compile(
    r"\bno\s+(es|son)\s+(mi|mio|mia|el mio|la mia|de mi)\b|\bno\s+(lo|la|los)?\s*conozco\b|"
    r"\bequivocad|\bwrong\b|\bnot (mine|me|my)\b|\bdon'?t know\b|\bno soy\b|"
    r"\bnunca\b.*\b(cedula|documento|credito)|\bisn'?t (mine|my)\b"
)
_THEIRS = re.compile(
    r"\b(si|yes|yeah)\b.*\b(mi|mio|mia|yo|mine|my|me)\b|\bsoy yo\b|\bes mio\b|"
    r"\bes el mio\b|\bmy number\b|\bit'?s me\b|\bthat'?s me\b|\bis mine\b|\bes mi (numero|cel)"
)


def wrong_number_reply(text):
    """ "affirm" when the words confirm a wrong number, "deny" when they say it is theirs,
    None when they say neither."""
    plain = unicodedata.normalize("NFKD", (text or "").lower())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    if _NOT_THEIRS.search(plain):
        return "affirm"
    if _THEIRS.search(plain):
        return "deny"
    return None


class ActionHandToAgent(BotAction):
    """Queue the conversation for an agent with the debtor's intent as the reason, and say when
    a person will answer."""

    def name(self):
        return "action_hand_to_agent"

    def act(self, dispatcher, tracker, domain):
        reason = tracker.latest_message.get("intent", {}).get("name") or "request_agent"
        with conversation_scope(tracker) as (s, conversation):
            if conversation is not None and waiting.is_waiting(conversation):
                # Asked again while in line: where they stand, not the hand-over once more.
                message = waiting.still_waiting_message(s, app().config, conversation)
            else:
                if conversation is not None:
                    mark_for_agent(s, conversation, reason)
                debtor = conversation.debtor if conversation is not None else None
                message = agents.handoff_message(app().config, debtor)
        say(dispatcher, message["template"], **message["vars"])
        return []


# The one question after a first stop: this channel, or every channel?
SCOPE_CHOICES = [
    {"title_template": "button.stop_all", "payload": "/opt_out_all"},
    {"title_template": "button.only_this_channel", "payload": "/deny"},
]


class ActionOptOut(BotAction):
    """Stop proactive messages on this channel at once (the debtor's words kept), confirm once,
    and the first time ask whether they mean every channel."""

    def name(self):
        return "action_opt_out"

    def act(self, dispatcher, tracker, domain):
        with conversation_scope(tracker) as (s, conversation):
            outcome = "stopped"
            if conversation is not None:
                outcome = contact.opt_out(s, conversation, actor="debtor")
        if outcome == "ask_all":
            say_with_choices(dispatcher, "opt_out.confirmed_ask_all", SCOPE_CHOICES)
        elif outcome:  # confirmed once; a repeated STOP gets no further message
            say(dispatcher, "opt_out.confirmed")
        return []


class ActionOptOutAll(BotAction):
    """A clear "all" (or yes to the question): no proactive message on any channel."""

    def name(self):
        return "action_opt_out_all"

    def act(self, dispatcher, tracker, domain):
        intent = tracker.latest_message.get("intent", {}).get("name")
        with conversation_scope(tracker) as (s, conversation):
            if conversation is None:
                stopped = None
            elif intent == "affirm" and not contact.scope_question_open(conversation):
                stopped = None  # a yes to something else: not a stop
            else:
                stopped = contact.opt_out_all(s, conversation, actor="debtor")
        if stopped is None:
            say_with_choices(dispatcher, "help.menu", MENU_CHOICES)
        else:
            say(dispatcher, "opt_out.all_confirmed")
        return []


class ActionOptOutOnlyThis(BotAction):
    """No to the question: only this channel stops (already done)."""

    def name(self):
        return "action_opt_out_only_this"

    def act(self, dispatcher, tracker, domain):
        with conversation_scope(tracker) as (s, conversation):
            asked = conversation is not None and contact.scope_question_open(conversation)
            if asked:
                contact.answer_scope(s, conversation)
        if asked:
            say(dispatcher, "opt_out.only_this_channel")
        else:
            say_with_choices(dispatcher, "help.menu", MENU_CHOICES)
        return []


class ActionRecordConsent(BotAction):
    """Yes, you may write to me here: the consent is recorded with the debtor's words."""

    def name(self):
        return "action_record_consent"

    def act(self, dispatcher, tracker, domain):
        recorded = None
        with conversation_scope(tracker) as (s, conversation):
            if conversation is not None and conversation.debtor is not None:
                recorded = contact.give_consent(s, conversation)
        say(dispatcher, "consent.recorded" if recorded is not None else "consent.verify_first")
        return []


def mark_wrong_number(dispatcher, tracker):
    """Apologise, disclose nothing, and mark the number so nobody writes to it again."""
    with conversation_scope(tracker) as (s, conversation):
        if conversation is not None:
            contact.mark_wrong_number(s, conversation, actor="debtor")
    say(dispatcher, "wrong_number.sorry")
    return [
        SlotSet("verified", False),
        SlotSet("pending_request", None),
        SlotSet("pending_text", None),
    ]


def answer_wrong_number(dispatcher, tracker, answer):
    """The answer to "is this a wrong number?": a yes marks it; a no goes on (verification for
    someone not verified yet, else the menu)."""
    if answer == "affirm":
        return mark_wrong_number(dispatcher, tracker) + listen()
    say(dispatcher, "wrong_number.not_wrong")
    if not tracker.get_slot("verified"):  # it is theirs: go on proving who they are
        return [FollowupAction("verification_form")]
    say_with_choices(dispatcher, "help.menu", MENU_CHOICES)
    return listen()


class ActionWrongNumber(BotAction):
    """A wrong number is marked only once the person confirms it (a question with two
    choices): an apology for a typo, "quién habla?" or a relative must not silence the real
    debtor's number. Nothing about any debt is said either way."""

    def name(self):
        return "action_wrong_number"

    def act(self, dispatcher, tracker, domain):
        if asked_before(tracker).get("template") == "wrong_number.confirm":
            # The answer to the question: the debtor's own words decide before the intent
            # ("no no, sí es mi número" can be read as wrong_number; it is a no).
            if wrong_number_reply(tracker.latest_message.get("text")) == "deny":
                return answer_wrong_number(dispatcher, tracker, "deny")
            return mark_wrong_number(dispatcher, tracker) + listen()
        with conversation_scope(tracker) as (s, conversation):
            if conversation is not None:
                audit.record(s, "debtor", "conversation.wrong_number_asked", conversation, {})
        say_with_choices(dispatcher, "wrong_number.confirm", WRONG_NUMBER_CHOICES)
        return []


class ActionHardship(BotAction):
    """Empathy first, then options: more time, the longest plan the policy allows, a person."""

    def name(self):
        return "action_hardship"

    def act(self, dispatcher, tracker, domain):
        with conversation_scope(tracker) as (s, conversation):
            if conversation is not None:
                audit.record(s, "debtor", "conversation.hardship", conversation, {})
        say_with_choices(
            dispatcher,
            "hardship.support",
            [
                {"title_template": "button.more_time", "payload": "/request_deferral"},
                {
                    "title_template": "button.smaller_installments",
                    "payload": '/request_installments{"installments": "max"}',
                },
                {"title_template": "button.agent", "payload": "/request_agent"},
            ],
        )
        return []
