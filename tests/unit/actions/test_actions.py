import asyncio

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.balance import ActionGreetVerified, ActionTellBalance
from actions.handoff import ActionHandToAgent, ActionOptOut
from actions.verification import (
    ActionAskIdDigits,
    ActionVerificationDone,
    ValidateVerificationForm,
)
from bot.conversations import verification
from bot.models import Conversation


def tracker(conversation, slots=None, intent="inform", text=""):
    return Tracker(
        str(conversation.id),
        slots or {},
        {"intent": {"name": intent}, "entities": [], "text": text},
        [],
        False,
        None,
        {"name": "verification_form"},
        "action_listen",
    )


def run(coro):
    return asyncio.run(coro)


def templates_sent(dispatcher):
    return [(m["custom"]["template"], m["custom"]["vars"]) for m in dispatcher.messages]


def test_validator_verifies_the_right_digits(db, conversation):
    dispatcher = CollectingDispatcher()
    result = run(
        ValidateVerificationForm().validate_id_digits(
            "termina en 4821", dispatcher, tracker(conversation), {}
        )
    )
    assert result == {"id_digits": "verified", "verified": True}
    assert templates_sent(dispatcher) == [("verify.ok", {"first_name": "Camila"})]
    db.expire_all()
    assert verification.is_verified(db.get(Conversation, conversation.id))


def test_validator_counts_failures_then_locks(db, conversation):
    validate = ValidateVerificationForm().validate_id_digits
    sent = []
    for _ in range(3):
        dispatcher = CollectingDispatcher()
        result = run(validate("0000", dispatcher, tracker(conversation), {}))
        sent += templates_sent(dispatcher)
    assert sent == [
        ("verify.failed", {"attempts_left": 2}),
        ("verify.failed", {"attempts_left": 1}),
        ("verify.locked", {"minutes": verification.LOCK_MINUTES}),
    ]
    assert result == {"id_digits": "locked", "verified": False}


def test_validator_reasks_without_counting_on_bad_format(conversation):
    dispatcher = CollectingDispatcher()
    result = run(
        ValidateVerificationForm().validate_id_digits("hola", dispatcher, tracker(conversation), {})
    )
    assert result == {"id_digits": None} and dispatcher.messages == []


def test_balance_requires_verification(db, conversation):
    dispatcher = CollectingDispatcher()
    events = run(ActionTellBalance().run(dispatcher, tracker(conversation, {"verified": True}), {}))
    assert templates_sent(dispatcher) == [("verify.ask", {})]
    assert events == [SlotSet("verified", False)]


@pytest.mark.parametrize(
    ("instant", "template", "days_overdue"),
    [
        ("2026-11-05T15:00:00+00:00", "balance.current", 0),  # before the due date (Nov 10)
        ("2026-11-11T04:30:00+00:00", "balance.current", 0),  # 23:30 on the 10th in Bogotá
        ("2026-11-11T05:30:00+00:00", "balance.overdue", 1),  # 00:30 on the 11th in Bogotá
        ("2026-11-17T15:00:00+00:00", "balance.overdue", 7),
    ],
)
def test_balance_of_a_verified_debtor(
    db, conversation, time_machine, instant, template, days_overdue
):
    time_machine.move_to(instant, tick=False)
    conversation.verified_at = verification.utcnow()
    db.commit()
    dispatcher = CollectingDispatcher()
    run(ActionTellBalance().run(dispatcher, tracker(conversation, {"verified": True}), {}))
    [(sent, variables)] = templates_sent(dispatcher)
    assert sent == template and variables["days_overdue"] == days_overdue
    assert variables["amount"] == {"amount": "150000.00", "currency": "COP"}
    assert variables["due_date"] == "2026-11-10" and variables["reference"] == "DEMO-CO-001"


def test_after_verification_the_pending_request_is_answered(db, conversation, time_machine):
    time_machine.move_to("2026-11-17T15:00:00+00:00", tick=False)  # a week after the due date
    conversation.verified_at = verification.utcnow()
    db.commit()
    dispatcher = CollectingDispatcher()
    slots = {"id_digits": "verified", "pending_request": "ask_balance"}
    events = run(ActionVerificationDone().run(dispatcher, tracker(conversation, slots), {}))
    assert templates_sent(dispatcher)[0][0] == "balance.overdue"
    assert SlotSet("pending_request", None) in events and SlotSet("id_digits", None) in events


def test_greet_verified_uses_first_name(conversation):
    dispatcher = CollectingDispatcher()
    run(ActionGreetVerified().run(dispatcher, tracker(conversation), {}))
    assert templates_sent(dispatcher) == [("greet.verified", {"first_name": "Camila"})]


@pytest.mark.parametrize(
    ("instant", "sent"),
    [
        ("2026-11-23T15:00:00+00:00", [("agent.handoff", {})]),  # Monday 10:00 in Bogotá
        (
            "2026-11-29T08:30:00+00:00",  # Sunday 03:30 in Bogotá: the team is back on Monday
            [
                (
                    "agent.handoff_later",
                    {"opens_day": "2026-11-30", "opens_time": "08:00", "zone": "America/Bogota"},
                )
            ],
        ),
    ],
)
def test_hand_to_agent_records_the_reason(db, conversation, time_machine, instant, sent):
    time_machine.move_to(instant, tick=False)
    dispatcher = CollectingDispatcher()
    run(ActionHandToAgent().run(dispatcher, tracker(conversation, intent="dispute_debt"), {}))
    assert templates_sent(dispatcher) == sent
    db.expire_all()
    conv = db.get(Conversation, conversation.id)
    assert conv.needs_agent and conv.agent_reason == "dispute_debt"


def test_opt_out_is_recorded_for_the_channel(db, conversation):
    dispatcher = CollectingDispatcher()
    run(ActionOptOut().run(dispatcher, tracker(conversation, intent="opt_out"), {}))
    # The first stop asks, once, whether every channel is meant (test_handoff.py).
    assert templates_sent(dispatcher) == [("opt_out.confirmed_ask_all", {})]
    db.expire_all()
    debtor = db.get(Conversation, conversation.id).debtor
    assert debtor.opted_out_whatsapp_at is not None and debtor.opted_out_sms_at is None
    dispatcher = CollectingDispatcher()
    run(ActionOptOut().run(dispatcher, tracker(conversation, intent="opt_out"), {}))
    assert dispatcher.messages == []  # confirmed once


def test_ask_says_locked_while_locked(db, conversation):
    dispatcher = CollectingDispatcher()
    run(ActionAskIdDigits().run(dispatcher, tracker(conversation), {}))
    assert templates_sent(dispatcher) == [("verify.ask", {})]
    conversation.locked_until = verification.utcnow() + verification.timedelta(minutes=10)
    db.commit()
    dispatcher = CollectingDispatcher()
    run(ActionAskIdDigits().run(dispatcher, tracker(conversation), {}))
    assert templates_sent(dispatcher) == [("verify.locked", {"minutes": 10})]


def test_wrong_number_is_marked_only_once_confirmed(db, conversation):
    from actions.handoff import ActionWrongNumber

    dispatcher = CollectingDispatcher()
    events = run(
        ActionWrongNumber().run(dispatcher, tracker(conversation, intent="wrong_number"), {})
    )
    [message] = dispatcher.messages
    assert message["custom"]["template"] == "wrong_number.confirm" and events == []
    assert [(b["payload"], b["on"]) for b in message["custom"]["buttons"]] == [
        ("/wrong_number", "affirm"),
        ("/deny", "deny"),
    ]
    db.expire_all()
    assert db.get(Conversation, conversation.id).debtor.wrong_number_at is None
    # The "yes" button (or the same words again) answers the question: now it is marked.
    confirmed = tracker(conversation, intent="wrong_number")
    confirmed.events = [
        {"event": "bot", "data": {"custom": message["custom"]}},
        {"event": "user", "parse_data": {"intent": {"name": "wrong_number"}}},
    ]
    dispatcher = CollectingDispatcher()
    events = run(ActionWrongNumber().run(dispatcher, confirmed, {}))
    assert templates_sent(dispatcher) == [("wrong_number.sorry", {})]
    assert SlotSet("verified", False) in events
    db.expire_all()
    conv = db.get(Conversation, conversation.id)
    assert conv.debtor.wrong_number_at is not None
    assert conv.state == "closed" and conv.agent_reason == "wrong_number"


def test_a_no_in_words_read_as_wrong_number_does_not_mark_the_number(db, conversation):
    """After the question, "no no, sí es mi número" may be classified wrong_number: the words
    decide, and verification goes on."""
    from actions.handoff import ActionWrongNumber

    dispatcher = CollectingDispatcher()
    run(ActionWrongNumber().run(dispatcher, tracker(conversation, intent="wrong_number"), {}))
    answer = tracker(conversation, intent="wrong_number", text="no no, si es mi numero")
    answer.events = [
        {"event": "bot", "data": {"custom": dispatcher.messages[0]["custom"]}},
        {"event": "user", "parse_data": {"intent": {"name": "wrong_number"}}},
    ]
    dispatcher = CollectingDispatcher()
    events = run(ActionWrongNumber().run(dispatcher, answer, {}))
    assert templates_sent(dispatcher) == [("wrong_number.not_wrong", {})]
    assert FollowupAction("verification_form") in events
    db.expire_all()
    assert db.get(Conversation, conversation.id).debtor.wrong_number_at is None


def user(intent):
    return {"event": "user", "parse_data": {"intent": {"name": intent}}}


@pytest.mark.parametrize(
    ("intents", "template"),
    [
        (["greet", "out_of_scope"], "fallback"),
        (["nlu_fallback", "out_of_scope"], "fallback.offer_agent"),
        (["out_of_scope", "greet", "nlu_fallback"], "fallback"),
    ],
)
def test_clarify_offers_a_person_after_two_misunderstandings(conversation, intents, template):
    from actions.clarify import ActionClarify

    t = tracker(conversation)
    t.events = [user(i) for i in intents]
    dispatcher = CollectingDispatcher()
    run(ActionClarify().run(dispatcher, t, {}))
    [message] = dispatcher.messages
    assert message["custom"]["template"] == template
    payloads = [b["payload"] for b in message["custom"]["buttons"]]
    assert set(payloads) == {"/ask_balance", "/request_agent"}
    if template == "fallback.offer_agent":
        assert payloads[0] == "/request_agent"


def test_claim_form_validators_parse_dates_and_amounts(db, conversation):
    from actions.claims import ValidatePaymentClaimForm

    validator = ValidatePaymentClaimForm()
    t = tracker(conversation)
    dispatcher = CollectingDispatcher()
    assert run(validator.validate_claim_amount("150 mil", dispatcher, t, {})) == {
        "claim_amount": "15000000"
    }
    assert run(validator.validate_claim_amount("no se", dispatcher, t, {})) == {
        "claim_amount": "unknown"
    }
    assert run(validator.validate_claim_date("ayer", dispatcher, t, {}))["claim_date"]
    assert run(validator.validate_claim_date("blah", dispatcher, t, {})) == {"claim_date": None}
    assert templates_sent(dispatcher) == [("claim.date_unclear", {})]


def test_record_payment_claim_action(db, conversation):
    from actions.claims import ActionRecordPaymentClaim
    from bot.models import PaymentClaim

    slots = {"claim_date": "2026-11-20", "claim_amount": "unknown", "pending_text": "ya pague"}
    dispatcher = CollectingDispatcher()
    run(ActionRecordPaymentClaim().run(dispatcher, tracker(conversation, slots), {}))
    assert templates_sent(dispatcher) == [("claim.recorded", {})]
    db.expire_all()
    claim = db.execute(select(PaymentClaim)).scalar_one()
    assert claim.words == "ya pague" and claim.claimed_amount_minor is None


def test_promise_validator_offers_the_latest_date_when_too_far(db, conversation):
    from actions.promises import ValidatePromiseForm

    validator = ValidatePromiseForm()
    dispatcher = CollectingDispatcher()
    far = (verification.utcnow().date() + verification.timedelta(days=90)).isoformat()
    assert run(validator.validate_promise_date(far, dispatcher, tracker(conversation), {})) == {
        "promise_date": None
    }
    [message] = dispatcher.messages
    assert message["custom"]["template"] == "promise.too_far"
    latest = message["custom"]["vars"]["latest_date"]
    assert message["custom"]["buttons"][0]["payload"] == latest
    dispatcher = CollectingDispatcher()
    result = run(validator.validate_promise_date(latest, dispatcher, tracker(conversation), {}))
    assert result == {"promise_date": latest} and dispatcher.messages == []


def test_record_promise_action(db, conversation):
    from actions.promises import ActionRecordPromise
    from bot.models import Promise

    day = (verification.utcnow().date() + verification.timedelta(days=3)).isoformat()
    dispatcher = CollectingDispatcher()
    run(ActionRecordPromise().run(dispatcher, tracker(conversation, {"promise_date": day}), {}))
    [(template, variables)] = templates_sent(dispatcher)
    assert template == "promise.recorded" and variables["date"] == day
    assert variables["amount"] == {"amount": "150000.00", "currency": "COP"}
    db.expire_all()
    assert db.execute(select(Promise)).scalar_one().promised_date.isoformat() == day


def test_hardship_is_met_with_empathy_and_options(db, conversation):
    from actions.handoff import ActionHardship

    dispatcher = CollectingDispatcher()
    run(ActionHardship().run(dispatcher, tracker(conversation, intent="hardship"), {}))
    [message] = dispatcher.messages
    assert message["custom"]["template"] == "hardship.support"
    assert [b["payload"] for b in message["custom"]["buttons"]] == [
        "/request_deferral",
        '/request_installments{"installments": "max"}',
        "/request_agent",
    ]


def test_hardship_choice_offers_the_longest_plan_the_policy_allows(db, conversation):
    from actions.plans import ValidatePlanForm

    dispatcher = CollectingDispatcher()
    payload = '/request_installments{"installments": "max"}'
    slots = run(
        ValidatePlanForm().extract_plan_count(
            dispatcher, tracker(conversation, intent="request_installments", text=payload), {}
        )
    )
    assert slots == {"plan_count": "12", "plan_confirmed": None}  # the default policy's most
    assert dispatcher.messages == []  # not an "adjusted" request


def test_payment_link_only_for_a_verified_debtor(db, conversation):
    from actions.payments import ActionSendPaymentLink

    dispatcher = CollectingDispatcher()
    events = run(ActionSendPaymentLink().run(dispatcher, tracker(conversation), {}))
    assert templates_sent(dispatcher) == [("verify.ask", {})] and events
    conversation.verified_at = verification.utcnow()
    db.commit()
    dispatcher = CollectingDispatcher()
    run(ActionSendPaymentLink().run(dispatcher, tracker(conversation), {}))
    [(template, variables)] = templates_sent(dispatcher)
    assert template == "payment.link" and "/pay/" in variables["url"]
    assert variables["amount"] == {"amount": "150000.00", "currency": "COP"}


def test_payment_methods_offer_the_link_and_a_person(conversation):
    from actions.offers import ActionPaymentMethods

    dispatcher = CollectingDispatcher()
    run(ActionPaymentMethods().run(dispatcher, tracker(conversation), {}))
    [message] = dispatcher.messages
    assert message["custom"]["template"] == "payment.methods"
    assert [b["payload"] for b in message["custom"]["buttons"]] == [
        "/request_payment_link",
        "/request_agent",
    ]


def test_payment_methods_name_the_accounts_the_debtor_asks_about(db, conversation):
    from actions.offers import ActionPaymentMethods
    from bot.models import RailMethod
    from bot.payments import rails

    for code, phone in (("nequi", "3001112233"), ("daviplata", "3109998877")):
        row = db.execute(
            select(RailMethod).where(RailMethod.country == "CO", RailMethod.code == code)
        ).scalar_one()
        rails.update(db, row, {"phone": phone, "holder_name": "Cobranzas SAS"}, True, "admin:1")
    db.commit()
    question = "a que cuenta consigno por nequi?"
    dispatcher = CollectingDispatcher()
    run(ActionPaymentMethods().run(dispatcher, tracker(conversation, text=question), {}))
    assert [t for t, _v in templates_sent(dispatcher)] == ["payment.methods"]  # not verified
    conversation.verified_at = verification.utcnow()
    db.commit()
    dispatcher = CollectingDispatcher()
    run(ActionPaymentMethods().run(dispatcher, tracker(conversation, text=question), {}))
    [(key, variables), (last, _)] = templates_sent(dispatcher)
    assert (key, variables["method"], last) == ("payment.by_reference", "Nequi", "payment.methods")
    assert "3001112233" in variables["details"] and len(variables["reference"]) == 7


def test_discount_only_where_the_policy_allows(db, conversation):
    from actions.offers import ActionOfferDiscount
    from bot.debts.policies import discounted
    from bot.models import PaymentPolicy

    conversation.verified_at = verification.utcnow()
    db.commit()
    dispatcher = CollectingDispatcher()
    run(ActionOfferDiscount().run(dispatcher, tracker(conversation), {}))
    assert templates_sent(dispatcher)[0][0] == "discount.none"  # the default policy: none
    db.add(PaymentPolicy(portfolio="demo", discount_max_pct=15, discount_valid_days=5))
    db.commit()
    dispatcher = CollectingDispatcher()
    run(ActionOfferDiscount().run(dispatcher, tracker(conversation), {}))
    [(template, variables)] = templates_sent(dispatcher)
    assert template == "discount.offer" and variables["pct"] == 15
    assert variables["amount"] == {"amount": "127500.00", "currency": "COP"}
    assert discounted(333, 15) == 283  # 49.95 off rounds to 50


def test_discount_requires_verification(conversation):
    from actions.offers import ActionOfferDiscount

    dispatcher = CollectingDispatcher()
    run(ActionOfferDiscount().run(dispatcher, tracker(conversation), {}))
    assert templates_sent(dispatcher) == [("verify.ask", {})]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("en 6 cuotas", (6, None)),
        ("seis", (6, None)),
        ("50 mil por cuota", (None, 5_000_000)),
        ("$30.000 mensuales", (None, 3_000_000)),
        ("no se", (None, None)),
    ],
)
def test_installment_request_is_a_count_or_an_amount(text, expected):
    from actions.plans import read_request

    assert read_request(text, "COP") == expected


def test_plan_form_confirms_then_creates_the_plan(db, conversation):
    from actions.plans import ActionAskPlanConfirmed, ActionCreatePlan, ValidatePlanForm
    from bot.models import Account, PaymentPlan

    conversation.verified_at = verification.utcnow()
    db.commit()
    t = tracker(conversation, {"requested_slot": "plan_count"}, text="en 24 cuotas")
    t.latest_message["text"] = "en 24 cuotas"
    dispatcher = CollectingDispatcher()
    slots = run(ValidatePlanForm().extract_plan_count(dispatcher, t, {}))
    assert slots == {"plan_count": "12", "plan_confirmed": None}  # the policy's maximum
    assert templates_sent(dispatcher) == [("plan.adjusted", {"count": 12})]
    dispatcher = CollectingDispatcher()
    run(ActionAskPlanConfirmed().run(dispatcher, tracker(conversation, {"plan_count": "12"}), {}))
    [(template, variables)] = templates_sent(dispatcher)
    assert template == "plan.summary" and variables["total"]["amount"] == "150000.00"
    dispatcher = CollectingDispatcher()
    confirmed = {"plan_count": "12", "plan_confirmed": True}
    run(ActionCreatePlan().run(dispatcher, tracker(conversation, confirmed), {}))
    [(template, variables)] = templates_sent(dispatcher)
    assert template == "plan.created" and "/pay/" in variables["url"]
    db.expire_all()
    plan = db.execute(select(PaymentPlan)).scalar_one()
    assert len(plan.installments) == 12 and plan.total_minor == 15_000_000
    assert db.get(Account, plan.account_id).status == "plan"


def test_no_plan_when_nothing_can_be_split(db, conversation):
    from actions.plans import ActionCreatePlan, ValidatePlanForm
    from bot.models import Account

    for account in db.execute(select(Account)).scalars():
        account.status = "claim_review"
    db.commit()
    slots = run(
        ValidatePlanForm().required_slots(
            ["plan_count", "plan_confirmed"], CollectingDispatcher(), tracker(conversation), {}
        )
    )
    assert slots == []
    dispatcher = CollectingDispatcher()
    run(ActionCreatePlan().run(dispatcher, tracker(conversation), {}))
    assert dispatcher.messages[0]["custom"]["template"] == "plan.unavailable"
