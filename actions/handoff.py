"""Requests the bot does not automate yet go to the agent queue; opt-outs (one channel or
all) and consent given in the chat are recorded with the debtor's words."""

from rasa_sdk.events import SlotSet

from bot import audit
from bot.conversations import agents, contact
from bot.conversations.escalation import mark_for_agent

from .clarify import MAIN_CHOICES as HELP_CHOICES
from .context import BotAction, app, conversation_scope, say, say_with_choices


class ActionHandToAgent(BotAction):
    """Queue the conversation for an agent with the debtor's intent as the reason, and say when
    a person will answer."""

    def name(self):
        return "action_hand_to_agent"

    def act(self, dispatcher, tracker, domain):
        reason = tracker.latest_message.get("intent", {}).get("name") or "request_agent"
        with conversation_scope(tracker) as (s, conversation):
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
            say_with_choices(dispatcher, "help.menu", HELP_CHOICES)
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
            say_with_choices(dispatcher, "help.menu", HELP_CHOICES)
        return []


class ActionRecordConsent(BotAction):
    """Yes, you may write to me here: the consent is recorded with the debtor's words."""

    def name(self):
        return "action_record_consent"

    def act(self, dispatcher, tracker, domain):
        with conversation_scope(tracker) as (s, conversation):
            if conversation is not None and conversation.debtor is not None:
                contact.give_consent(s, conversation)
        say(dispatcher, "consent.recorded")
        return []


class ActionWrongNumber(BotAction):
    """Apologise, disclose nothing, and mark the number so nobody writes to it again."""

    def name(self):
        return "action_wrong_number"

    def act(self, dispatcher, tracker, domain):
        with conversation_scope(tracker) as (s, conversation):
            if conversation is not None:
                contact.mark_wrong_number(s, conversation, actor="debtor")
        say(dispatcher, "wrong_number.sorry")
        return [SlotSet("verified", False)]


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
