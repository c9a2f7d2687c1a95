"""Requests the bot does not automate yet go to the agent queue; opt-outs are honoured."""

from rasa_sdk.events import SlotSet

from bot import audit
from bot.conversations import agents, contact
from bot.conversations.escalation import mark_for_agent

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


class ActionOptOut(BotAction):
    """Stop proactive messages on this channel and confirm once."""

    def name(self):
        return "action_opt_out"

    def act(self, dispatcher, tracker, domain):
        with conversation_scope(tracker) as (s, conversation):
            first_time = conversation is None or contact.opt_out(s, conversation, actor="debtor")
        if first_time:  # confirmed once; a repeated STOP gets no further message
            say(dispatcher, "opt_out.confirmed")
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
