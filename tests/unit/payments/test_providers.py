"""Stripe's events for auto-debit: a card saved in setup mode, off-session charges."""

import pytest

from bot.payments.providers import BadEvent, event_from_stripe_json


def stripe_event(type_, **obj):
    return {"id": "evt_1", "type": type_, "data": {"object": obj}}


def test_a_setup_mode_session_saves_a_card_and_moves_no_money():
    event = event_from_stripe_json(
        stripe_event(
            "checkout.session.completed",
            id="cs_1",
            mode="setup",
            customer="cus_1",
            setup_intent="seti_1",
            payment_status="no_payment_required",
            amount_total=None,
        )
    )
    assert (event.kind, event.ref, event.amount_minor) == ("setup_completed", "cs_1", None)
    assert event.extra == {"setup_intent": "seti_1", "customer": "cus_1"}
    expired = event_from_stripe_json(
        stripe_event("checkout.session.expired", id="cs_1", mode="setup")
    )
    assert expired.kind == "other"


def test_off_session_charges_are_their_own_checkouts():
    succeeded = event_from_stripe_json(
        stripe_event(
            "payment_intent.succeeded", id="pi_1", amount_received=5_000_000, currency="cop"
        )
    )
    assert (succeeded.kind, succeeded.ref, succeeded.amount_minor, succeeded.currency) == (
        "completed",
        "pi_1",
        5_000_000,
        "COP",
    )
    failed = event_from_stripe_json(
        stripe_event(
            "payment_intent.payment_failed",
            id="pi_2",
            last_payment_error={"code": "card_declined", "decline_code": "insufficient_funds"},
        )
    )
    assert (failed.kind, failed.extra["decline_code"]) == ("failed", "insufficient_funds")
    assert event_from_stripe_json(stripe_event("payment_intent.created", id="pi_3")).kind == "other"


@pytest.mark.parametrize(
    "obj",
    [
        {"id": "pi_1", "amount_received": 0},
        {"id": "pi_1", "amount_received": "500"},
        {"id": "pi_1", "amount_received": True},
    ],
)
def test_a_succeeded_charge_needs_a_whole_amount(obj):
    with pytest.raises(BadEvent):
        event_from_stripe_json(stripe_event("payment_intent.succeeded", **obj))
