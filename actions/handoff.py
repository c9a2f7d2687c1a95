"""Requests the bot does not automate yet go to the agent queue; opt-outs are honoured."""

from zoneinfo import ZoneInfo

from rasa_sdk import Action
from rasa_sdk.events import SlotSet

from bot import audit
from bot.conversations import agents, contact
from bot.outbound import messaging

from .context import app, conversation_scope, say, say_with_choices


class ActionHandToAgent(Action):
    """Queue the conversation for an agent with the debtor's intent as the reason."""

    def name(self):
        return "action_hand_to_agent"

    async def run(self, dispatcher, tracker, domain):
        reason = tracker.latest_message.get("intent", {}).get("name") or "request_agent"
        with conversation_scope(tracker) as (s, conversation):
            if conversation is not None:
                messaging.mark_for_agent(s, conversation, reason)
            zone = conversation.debtor.timezone if conversation and conversation.debtor else None
        on_shift, opens = agents.availability(app().config)
        if on_shift or opens is None:
            say(dispatcher, "agent.handoff")
            return []
        # Tell the time where the debtor is, when we know where that is.
        zone = zone or app().config["AGENT_TIMEZONE"]
        opens = opens.astimezone(ZoneInfo(zone))
        say(
            dispatcher,
            "agent.handoff_later",
            opens_day=opens.date().isoformat(),
            opens_time=opens.strftime("%H:%M"),
            zone=agents.city(zone),
        )
        return []


class ActionOptOut(Action):
    """Stop proactive messages on this channel and confirm once."""

    def name(self):
        return "action_opt_out"

    async def run(self, dispatcher, tracker, domain):
        with conversation_scope(tracker) as (s, conversation):
            first_time = conversation is None or contact.opt_out(s, conversation, actor="debtor")
        if first_time:  # confirmed once; a repeated STOP gets no further message
            say(dispatcher, "opt_out.confirmed")
        return []


class ActionWrongNumber(Action):
    """Apologise, disclose nothing, and mark the number so nobody writes to it again."""

    def name(self):
        return "action_wrong_number"

    async def run(self, dispatcher, tracker, domain):
        with conversation_scope(tracker) as (s, conversation):
            if conversation is not None:
                contact.mark_wrong_number(s, conversation, actor="debtor")
        say(dispatcher, "wrong_number.sorry")
        return [SlotSet("verified", False)]


class ActionHardship(Action):
    """Empathy first, then options: more time, the longest plan the policy allows, a person."""

    def name(self):
        return "action_hardship"

    async def run(self, dispatcher, tracker, domain):
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
