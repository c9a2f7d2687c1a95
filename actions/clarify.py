"""Misunderstandings: clarify with the main choices; after two in a row, offer a person."""

from .context import BotAction, say_with_choices

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
        if misunderstandings_in_a_row(tracker) >= 2:
            say_with_choices(dispatcher, "fallback.offer_agent", list(reversed(MAIN_CHOICES)))
        else:
            say_with_choices(dispatcher, "fallback", MAIN_CHOICES)
        return []
