"""Promise to pay on a date, or more time: inside the policy's maximum days."""

from datetime import date

from rasa_sdk.events import SlotSet

from bot.debts import parsing, promises
from bot.debts.accounts import collectible_accounts, nothing_to_collect
from bot.money import money_var

from .context import (
    BotAction,
    BotFormValidation,
    asked_before,
    bot_spoke_this_turn,
    conversation_scope,
    listen,
    say,
    say_message,
    say_with_choices,
    today_for,
)


def is_deferral(tracker):
    return tracker.get_slot("pending_request") in ("request_deferral", "hardship")


def _too_far_choices(latest):
    return [
        {
            "title_template": "button.pay_on",
            "title_vars": {"date": latest.isoformat()},
            "payload": latest.isoformat(),
            "on": "affirm",  # "ok", "dale", "sí, ese día" take the date offered
        },
        {"title_template": "button.agent", "payload": "/request_agent"},
    ]


def offered_date(tracker):
    """The date the bot's last question offered as its one choice, or None."""
    for button in asked_before(tracker).get("buttons") or []:
        if button.get("on") == "affirm":
            try:
                return date.fromisoformat(str(button.get("payload")))
            except ValueError:
                return None
    return None


class ValidatePromiseForm(BotFormValidation):
    def name(self):
        return "validate_promise_form"

    async def extract_promise_date(self, dispatcher, tracker, domain):
        if tracker.get_slot("requested_slot") == "promise_date":
            text = tracker.latest_message.get("text")
        else:  # activation: the words that asked for it, kept from before verification
            text = tracker.get_slot("pending_text") or tracker.latest_message.get("text")
        with conversation_scope(tracker) as (_s, conversation):
            today = today_for(conversation)
        day = parsing.parse_date(text or "", today)
        if day is None and tracker.latest_message.get("intent", {}).get("name") == "affirm":
            day = offered_date(tracker)  # "sí, ese día" to the latest date the bot offered
        return {"promise_date": day.isoformat()} if day else {}

    async def validate_promise_date(self, slot_value, dispatcher, tracker, domain):
        with conversation_scope(tracker) as (s, conversation):
            today = today_for(conversation)
            accounts = collectible_accounts(s, conversation.debtor_id) if conversation else []
            latest = promises.latest_promise_date(
                s, accounts[0] if accounts else None, today, is_deferral(tracker)
            )
        day = date.fromisoformat(slot_value)
        if day < today:
            say(dispatcher, "promise.past")
            return {"promise_date": None}
        if day > latest:
            say_with_choices(
                dispatcher,
                "promise.too_far",
                _too_far_choices(latest),
                latest_date=latest.isoformat(),
            )
            return {"promise_date": None}
        return {"promise_date": slot_value}


class ActionAskPromiseDate(BotAction):
    def name(self):
        return "action_ask_promise_date"

    def act(self, dispatcher, tracker, domain):
        if bot_spoke_this_turn(tracker, ("promise.too_far", "promise.past")):
            return []  # the validator already answered (and offered choices)
        with conversation_scope(tracker) as (s, conversation):
            accounts = collectible_accounts(s, conversation.debtor_id) if conversation else []
            latest = promises.latest_promise_date(
                s,
                accounts[0] if accounts else None,
                today_for(conversation),
                is_deferral(tracker),
            )
        say(dispatcher, "promise.ask_date", latest_date=latest.isoformat())
        return []


class ActionRecordPromise(BotAction):
    def name(self):
        return "action_record_promise"

    def act(self, dispatcher, tracker, domain):
        reset = [
            SlotSet("promise_date", None),
            SlotSet("pending_text", None),
            SlotSet("pending_request", None),
        ]
        day = date.fromisoformat(tracker.get_slot("promise_date"))
        with conversation_scope(tracker) as (s, conversation):
            outcome, detail = promises.promise(
                s,
                conversation,
                day,
                actor="debtor",
                today=today_for(conversation),
                deferral=is_deferral(tracker),
            )
            if outcome == "recorded":
                account = collectible_accounts(s, conversation.debtor_id)[0]
                amount = money_var(detail.amount_minor, account.currency)
            else:
                nothing = nothing_to_collect(s, conversation.debtor_id)
        if outcome == "recorded":
            say(dispatcher, "promise.recorded", amount=amount, date=day.isoformat())
        else:
            for message in nothing:
                say_message(dispatcher, message)
        return reset + listen()
