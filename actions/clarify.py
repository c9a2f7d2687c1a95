"""Misunderstandings: clarify with the main choices; after two in a row, offer a person. A
debtor already waiting for a person is told they are still in line instead."""

from bot.conversations import waiting

from .context import (
    BotAction,
    app,
    asked_before,
    conversation_scope,
    listen,
    note_understanding,
    say,
    say_with_choices,
)
from .handoff import answer_wrong_number, wrong_number_reply

MISUNDERSTOOD = ("nlu_fallback", "out_of_scope")
MAIN_CHOICES = [
    {"title_template": "button.balance", "payload": "/ask_balance"},
    {"title_template": "button.agent", "payload": "/request_agent"},
]


def misunderstandings_in_a_row(tracker):
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent not in MISUNDERSTOOD:
            break
        count += 1
    return count


class ActionClarify(BotAction):
    def name(self):
        return "action_clarify"

    def act(self, dispatcher, tracker, domain):
        if asked_before(tracker).get("template") == "wrong_number.confirm":
            # Words the language model did not place ("no no, sí es mi número") answer it.
            answer = wrong_number_reply(tracker.latest_message.get("text"))
            if answer:
                return answer_wrong_number(dispatcher, tracker, answer)
        with conversation_scope(tracker) as (s, conversation):
            in_line = conversation is not None and waiting.is_waiting(conversation)
            if in_line:
                message = waiting.still_waiting_message(s, app().config, conversation)
            # Off-topic messages were understood; a fallback (or no rule for what was read) is
            # what the learning loop is for.
            intent = (tracker.latest_message.get("intent") or {}).get("name")
            note_understanding(s, tracker, fell_back=intent != "out_of_scope")
        if in_line:
            say(dispatcher, message["template"], **message["vars"])
        elif misunderstandings_in_a_row(tracker) >= 2:
            say_with_choices(dispatcher, "fallback.offer_agent", list(reversed(MAIN_CHOICES)))
        else:
            say_with_choices(dispatcher, "fallback", MAIN_CHOICES)
        # The core fallback predicts this action where no rule applies: listening ends the
        # turn, so it is said once, never ten times.
        return listen()
