"""Installments: a count (or an amount per installment) inside the policy, the schedule,
a confirmation, the plan, and the link for the first installment."""

import re

from rasa_sdk.events import SlotSet

from bot import audit
from bot.debts import parsing, plans
from bot.debts.accounts import collectible_accounts
from bot.debts.policies import policy_for
from bot.money import money_var
from bot.payments import links

from .context import (
    BotAction,
    BotFormValidation,
    conversation_scope,
    listen,
    say,
    say_with_choices,
    today_for,
)

_MONEY = re.compile(
    r"[$]|\b(mil|k|lucas?|millon|millones|thousand|pesos|dolares|dollars|soles|usd|cop|mxn|clp|pen)\b"
)


def read_request(text, currency):
    """(count, amount per installment): "en 6 cuotas" -> (6, None); "50 mil por cuota" ->
    (None, 5000000 minor units); (None, None) when the text says neither."""
    count = parsing.parse_count(text)
    if count is not None and count <= 60 and not _MONEY.search(text.lower()):
        return count, None
    return None, parsing.parse_amount(text, currency)


# The hardship choice's payload: /request_installments{"installments": "max"}.
_LONGEST = re.compile(r'"installments"\s*:\s*"max"')
AGENT = {"title_template": "button.agent", "payload": "/request_agent"}


def _account_and_policy(s, conversation):
    accounts = collectible_accounts(s, conversation.debtor_id) if conversation else []
    if not accounts:
        return None, None
    return accounts[0], policy_for(s, accounts[0])


class ValidatePlanForm(BotFormValidation):
    def name(self):
        return "validate_plan_form"

    async def required_slots(self, domain_slots, dispatcher, tracker, domain):
        """Nothing to ask when no debt can be split (already on a plan, under review, paid)."""
        with conversation_scope(tracker) as (s, conversation):
            account, _policy = _account_and_policy(s, conversation)
        return domain_slots if account is not None else []

    async def extract_plan_count(self, dispatcher, tracker, domain):
        if tracker.get_slot("requested_slot") in ("plan_count", "plan_confirmed"):
            text = tracker.latest_message.get("text") or ""
        else:  # activation: the words that asked for it, kept from before verification
            text = tracker.get_slot("pending_text") or tracker.latest_message.get("text") or ""
        longest = text.startswith("/") and _LONGEST.search(text) is not None
        if text.startswith("/") and not longest:
            return {}
        with conversation_scope(tracker) as (s, conversation):
            account, policy = _account_and_policy(s, conversation)
            if account is None:
                return {}
            if longest:  # hardship: the smallest installments the policy allows
                count, per = policy.max_installments, None
            else:
                count, per = read_request(text, account.currency)
            fitted, adjusted = plans.fit_count(account.balance_minor, policy, count, per)
            adjusted = adjusted and not longest
        if fitted is None:
            return {}
        if adjusted:
            say(dispatcher, "plan.adjusted", count=fitted)
        return {"plan_count": str(fitted), "plan_confirmed": None}


class ActionAskPlanCount(BotAction):
    def name(self):
        return "action_ask_plan_count"

    def act(self, dispatcher, tracker, domain):
        with conversation_scope(tracker) as (s, conversation):
            _account, policy = _account_and_policy(s, conversation)
            most = policy.max_installments if policy else plans.MIN_INSTALLMENTS
        say(dispatcher, "plan.ask_count", max=most)
        return []


def _schedule(s, conversation, count):
    """(account, rows, fee): the plan's total is the balance plus the policy's fee."""
    account, policy = _account_and_policy(s, conversation)
    fee = plans.fee(account.balance_minor, policy)
    rows = plans.schedule(account.balance_minor + fee, count, policy, today_for(conversation))
    return account, rows, fee


class ActionAskPlanConfirmed(BotAction):
    def name(self):
        return "action_ask_plan_confirmed"

    def act(self, dispatcher, tracker, domain):
        count = int(tracker.get_slot("plan_count"))
        with conversation_scope(tracker) as (s, conversation):
            account, rows, _fee = _schedule(s, conversation, count)
            variables = {
                "count": count,
                "first_amount": money_var(rows[0][1], account.currency),
                "first_date": rows[0][0].isoformat(),
                "others": count - 1,
                "amount": money_var(rows[1][1], account.currency),
                "total": money_var(sum(a for _, a in rows), account.currency),
            }
        say_with_choices(
            dispatcher,
            "plan.summary",
            [
                {"title_template": "button.confirm", "payload": "/affirm"},
                {"title_template": "button.change", "payload": "/deny"},
            ],
            **variables,
        )
        return []


class ActionCreatePlan(BotAction):
    def name(self):
        return "action_create_plan"

    def act(self, dispatcher, tracker, domain):
        reset = [
            SlotSet("plan_count", None),
            SlotSet("plan_confirmed", None),
            SlotSet("pending_text", None),
            SlotSet("pending_request", None),
        ]
        if tracker.get_slot("plan_count") is None:
            say_with_choices(dispatcher, "plan.unavailable", [AGENT])
            return reset + listen()
        if not tracker.get_slot("plan_confirmed"):
            say_with_choices(
                dispatcher,
                "plan.declined",
                [
                    {"title_template": "button.more_time", "payload": "/request_deferral"},
                    AGENT,
                ],
            )
            return reset + listen()
        count = int(tracker.get_slot("plan_count"))
        with conversation_scope(tracker) as (s, conversation):
            account, rows, fee = _schedule(s, conversation, count)
            plans.create_plan(s, account, rows, actor="debtor", fee_minor=fee)
            url = links.payment_url(account)
            audit.record(s, "debtor", "payment_link.sent", account, {"installment": 1})
            variables = {
                "count": count,
                "first_amount": money_var(rows[0][1], account.currency),
                "first_date": rows[0][0].isoformat(),
                "url": url,
            }
        say(dispatcher, "plan.created", **variables)
        return reset + listen()
