"""Reconciliation: provider events processed once, payments applied in order, nothing lost."""

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from bot import hooks
from bot.clock import utcnow
from bot.debts import plans, policies, promises
from bot.models import (
    Account,
    AuditEvent,
    Checkout,
    Message,
    Payment,
    PaymentEvent,
    PaymentPolicy,
    Promise,
    TemplateKey,
)
from bot.payments import reconcile as payments
from bot.payments.providers import Event

TODAY = date(2026, 11, 23)


@pytest.fixture
def camila(db, demo_debtors):
    """DEMO-CO-001: COP 150 000.00 (15 000 000 minor units), status open."""
    return db.execute(select(Account).where(Account.external_id == "DEMO-CO-001")).scalar_one()


def make_checkout(db, account, amount, purpose="full", ref="cs_1", provider="sandbox"):
    row = Checkout(
        account_id=account.id,
        provider=provider,
        provider_ref=ref,
        purpose=purpose,
        amount_minor=amount,
        currency=account.currency,
        status="open",
    )
    db.add(row)
    db.commit()
    return row


def event(kind="completed", ref="cs_1", amount=None, event_id="evt_1", currency="COP"):
    types = {
        "completed": "checkout.session.completed",
        "pending": "checkout.session.completed",
        "expired": "checkout.session.expired",
        "failed": "checkout.session.async_payment_failed",
    }
    return Event(
        id=event_id, type=types[kind], kind=kind, ref=ref, amount_minor=amount, currency=currency
    )


def queued_messages(db, payment):
    """Run the payment hooks; the ids of the messages they queued for delivery once the
    transaction commits (the outbox)."""
    payments.on_payment_applied(db, payment)
    return [args[0] for job, args in db.info.get("outbox", []) if job == "deliver_outbound"]


def three_installment_plan(db, account):
    policy = db.execute(select(PaymentPolicy).where(PaymentPolicy.portfolio == "default")).one()[0]
    rows = plans.schedule(account.balance_minor, 3, policy, TODAY)
    plan = plans.create_plan(db, account, rows, actor="debtor")
    db.commit()
    return plan


def test_full_payment_settles_the_account_and_thanks_once(db, camila, conversation):
    conversation.last_inbound_at = utcnow()
    make_checkout(db, camila, 15_000_000)
    outcome, payment = payments.handle_event(db, "sandbox", event(amount=15_000_000))
    assert outcome == "applied"
    ids = queued_messages(db, payment)
    db.commit()
    assert camila.balance_minor == 0 and camila.status == "paid"
    [thanks] = [db.get(Message, i) for i in ids]
    assert thanks.template_key == "payment.thanks_paid" and thanks.status == "pending"
    assert thanks.conversation_id == conversation.id
    assert "$150.000" in thanks.body and "al día" in thanks.body
    actions = db.execute(select(AuditEvent.action)).scalars().all()
    assert "payment.applied" in actions and "payment.thanked" in actions


def test_partial_payments_fill_installments_in_order(db, camila):
    plan = three_installment_plan(db, camila)
    amounts = [i.amount_minor for i in plan.installments]
    assert sum(amounts) == 15_000_000
    make_checkout(db, camila, amounts[0] + 1_000_000)
    payments.handle_event(db, "sandbox", event(amount=amounts[0] + 1_000_000))
    db.commit()
    first, second, third = plan.installments
    assert (first.paid_minor, first.status) == (amounts[0], "paid")
    assert (second.paid_minor, second.status) == (1_000_000, "due")
    assert third.paid_minor == 0
    assert camila.balance_minor == 15_000_000 - amounts[0] - 1_000_000
    assert camila.status == "plan" and plan.status == "active"
    assert payments.next_installment(plan) is second
    # The rest, in a second checkout: the plan completes and the account is paid.
    rest = camila.balance_minor
    make_checkout(db, camila, rest, ref="cs_2")
    outcome, payment = payments.handle_event(
        db, "sandbox", event(ref="cs_2", event_id="evt_2", amount=rest)
    )
    db.commit()
    assert outcome == "applied" and payment.surplus_minor == 0
    assert plan.status == "completed" and camila.status == "paid" and camila.balance_minor == 0
    assert all(i.status == "paid" for i in plan.installments)


def test_partial_payment_thanks_with_what_remains(db, camila, conversation):
    make_checkout(db, camila, 5_000_000)
    _, payment = payments.handle_event(db, "sandbox", event(amount=5_000_000))
    [message_id] = queued_messages(db, payment)
    db.commit()
    thanks = db.get(Message, message_id)
    assert thanks.template_key == "payment.thanks"
    assert "$50.000" in thanks.body and "$100.000" in thanks.body
    assert camila.status == "open" and camila.balance_minor == 10_000_000


def test_over_payment_keeps_the_surplus(db, camila):
    make_checkout(db, camila, 15_000_000)
    _, payment = payments.handle_event(db, "sandbox", event(amount=16_000_000))
    db.commit()
    assert camila.balance_minor == 0 and camila.status == "paid"
    assert payment.amount_minor == 16_000_000 and payment.surplus_minor == 1_000_000
    surplus = db.execute(
        select(AuditEvent).where(AuditEvent.action == "payment.surplus")
    ).scalar_one()
    assert surplus.data == {"surplus_minor": 1_000_000}


def test_plan_fee_is_owed_until_the_last_installment(db, camila):
    policy = db.execute(select(PaymentPolicy).where(PaymentPolicy.portfolio == "default")).one()[0]
    policy.plan_fee_bps = 100  # 1 %
    fee = plans.fee(camila.balance_minor, policy)
    rows = plans.schedule(camila.balance_minor + fee, 2, policy, TODAY)
    plan = plans.create_plan(db, camila, rows, actor="debtor", fee_minor=fee)
    db.commit()
    assert payments.owed(db, camila) == 15_000_000 + fee
    make_checkout(db, camila, 15_000_000 + fee)
    _, payment = payments.handle_event(db, "sandbox", event(amount=15_000_000 + fee))
    db.commit()
    assert payment.surplus_minor == 0 and plan.status == "completed" and camila.status == "paid"


def test_duplicate_event_is_a_no_op(db, camila, conversation):
    make_checkout(db, camila, 5_000_000)
    first = payments.handle_event(db, "sandbox", event(amount=5_000_000))
    db.commit()
    again = payments.handle_event(db, "sandbox", event(amount=5_000_000))
    db.commit()
    assert first[0] == "applied" and again == ("duplicate_event", None)
    assert camila.balance_minor == 10_000_000
    assert db.execute(select(func.count(Payment.id))).scalar() == 1
    assert db.execute(select(func.count(PaymentEvent.id))).scalar() == 1


def test_two_events_for_one_checkout_pay_once(db, camila):
    """Stripe sends completed, then async_payment_succeeded, for a delayed payment method."""
    make_checkout(db, camila, 5_000_000)
    assert payments.handle_event(db, "sandbox", event("pending", amount=5_000_000))[0] == "pending"
    db.commit()
    checkout = db.execute(select(Checkout)).scalar_one()
    assert checkout.status == "processing" and camila.balance_minor == 15_000_000
    succeeded = event(amount=5_000_000, event_id="evt_2")
    assert payments.handle_event(db, "sandbox", succeeded)[0] == "applied"
    repeat = event(amount=5_000_000, event_id="evt_3")
    assert payments.handle_event(db, "sandbox", repeat) == ("duplicate_payment", None)
    db.commit()
    assert camila.balance_minor == 10_000_000 and checkout.status == "completed"


def test_completed_after_expired_still_applies_the_money(db, camila):
    checkout = make_checkout(db, camila, 15_000_000)
    assert payments.handle_event(db, "sandbox", event("expired"))[0] == "expired"
    db.commit()
    assert checkout.status == "expired"
    outcome, _ = payments.handle_event(db, "sandbox", event(amount=15_000_000, event_id="evt_2"))
    db.commit()
    assert outcome == "applied" and checkout.status == "completed" and camila.status == "paid"
    actions = db.execute(select(AuditEvent.action)).scalars().all()
    assert "checkout.paid_after_expiry" in actions


def test_expired_after_completed_changes_nothing(db, camila):
    checkout = make_checkout(db, camila, 15_000_000)
    payments.handle_event(db, "sandbox", event(amount=15_000_000))
    outcome, payment = payments.handle_event(db, "sandbox", event("expired", event_id="evt_2"))
    db.commit()
    assert (outcome, payment) == ("stale", None)
    assert checkout.status == "completed" and camila.status == "paid"


def test_unknown_checkout_and_other_events_are_recorded_not_applied(db, camila):
    assert payments.handle_event(db, "sandbox", event(ref="cs_nope", amount=1))[0] == (
        "unknown_checkout"
    )
    other = Event(
        id="evt_9",
        type="payment_intent.created",
        kind="other",
        ref=None,
        amount_minor=None,
        currency=None,
    )
    assert payments.handle_event(db, "sandbox", other)[0] == "ignored"
    db.commit()
    assert camila.balance_minor == 15_000_000
    assert db.execute(select(func.count(PaymentEvent.id))).scalar() == 2


def test_currency_mismatch_is_not_applied(db, camila):
    make_checkout(db, camila, 15_000_000)
    outcome, _ = payments.handle_event(db, "sandbox", event(amount=15_000_000, currency="USD"))
    db.commit()
    assert outcome == "currency_mismatch" and camila.balance_minor == 15_000_000


def test_discount_checkout_settles_the_balance(db, camila):
    db.add(PaymentPolicy(portfolio="demo", discount_max_pct=10, discount_valid_days=5))
    db.commit()
    pct, amount, until = policies.discount_offer(db, camila, TODAY)
    assert (pct, amount, until) == (10, 13_500_000, TODAY + timedelta(days=5))
    make_checkout(db, camila, amount, purpose="discount")
    _, payment = payments.handle_event(db, "sandbox", event(amount=amount))
    db.commit()
    assert camila.balance_minor == 0 and camila.status == "paid"
    assert payment.discount_minor == 1_500_000 and payment.surplus_minor == 0


def test_promises_are_kept_or_broken(db, camila):
    kept = Promise(
        account_id=camila.id, amount_minor=5_000_000, promised_date=TODAY, created_by="debtor"
    )
    db.add(kept)
    db.commit()
    payments.apply_payment(db, camila, 2_000_000, "sandbox", "p1", today=TODAY)
    assert kept.status == "pending"  # partial: still time to pay the rest by the date
    payments.apply_payment(db, camila, 3_000_000, "sandbox", "p2", today=TODAY)
    assert kept.status == "kept"
    late = Promise(
        account_id=camila.id,
        amount_minor=10_000_000,
        promised_date=TODAY - timedelta(days=1),
        created_by="debtor",
    )
    db.add(late)
    db.flush()
    payments.apply_payment(db, camila, 1_000_000, "sandbox", "p3", today=TODAY)
    assert late.status == "broken"
    db.commit()


def test_overdue_promises_break_in_maintenance(db, camila):
    row = Promise(
        account_id=camila.id,
        amount_minor=1,
        promised_date=TODAY - timedelta(days=2),
        created_by="x",
    )
    db.add(row)
    db.commit()
    assert promises.break_overdue_promises(db, TODAY) == 1
    db.commit()
    assert row.status == "broken"


def test_no_thanks_to_a_debtor_who_opted_out(db, camila, conversation):
    camila.debtor.opted_out_whatsapp_at = camila.created_at
    make_checkout(db, camila, 1_000_000)
    _, payment = payments.handle_event(db, "sandbox", event(amount=1_000_000))
    assert queued_messages(db, payment) == []
    db.commit()
    assert camila.balance_minor == 14_000_000


def test_thanks_follow_the_language_the_debtor_writes_in(db, camila, conversation):
    conversation.locale = "en"  # what language.locale_for gives for English in Colombia
    conversation.last_inbound_at = utcnow()
    make_checkout(db, camila, 1_000_000)
    _, payment = payments.handle_event(db, "sandbox", event(amount=1_000_000))
    [message_id] = queued_messages(db, payment)
    body = db.get(Message, message_id).body
    assert body.startswith("Thank you! We received your payment of")
    # Pesos read in English: grouped by spaces and named, never "COP140,000" (issue 16).
    assert "140\xa0000\xa0Colombian pesos" in body


def test_a_failing_hook_never_undoes_the_payment(db, camila, monkeypatch):
    def broken(session, payment):
        raise RuntimeError("template store down")

    monkeypatch.setattr(hooks.payment_applied, "receivers", [broken])
    make_checkout(db, camila, 1_000_000)
    _, payment = payments.handle_event(db, "sandbox", event(amount=1_000_000))
    assert queued_messages(db, payment) == []
    db.commit()
    assert camila.balance_minor == 14_000_000
    actions = db.execute(select(AuditEvent.action)).scalars().all()
    assert "payment.hook_failed" in actions


@pytest.mark.parametrize("amount", [0, -5, None])
def test_a_payment_must_be_positive(db, camila, amount):
    with pytest.raises(ValueError):
        payments.apply_payment(db, camila, amount, "sandbox", "p")


def test_a_completed_checkout_with_nothing_received_applies_nothing(db, camila):
    checkout = make_checkout(db, camila, 15_000_000)
    assert payments.handle_event(db, "sandbox", event(amount=0)) == ("nothing_received", None)
    db.commit()
    assert checkout.status == "completed" and camila.balance_minor == 15_000_000


def test_a_payment_on_a_settled_account_is_all_surplus(db, camila):
    payments.apply_payment(db, camila, 15_000_000, "sandbox", "p1", today=TODAY)
    second = payments.apply_payment(db, camila, 2_000_000, "sandbox", "p2", today=TODAY)
    db.commit()
    assert second.surplus_minor == 2_000_000 and camila.balance_minor == 0
    assert camila.status == "paid"


def test_a_payment_cancels_the_reminders_it_made_pointless(db, camila):
    from datetime import datetime

    from bot.models import ScheduledMessage

    plan = three_installment_plan(db, camila)
    first, second, _third = plan.installments
    at = datetime(2026, 11, 24, 15)

    def reminder(step):
        row = ScheduledMessage(
            debtor_id=camila.debtor_id,
            account_id=camila.id,
            step=step,
            ref_date=TODAY,
            template_key="reminder.installment.friendly",
            due_at=at,
            expires_at=at,
        )
        db.add(row)
        return row

    paid_step = reminder(f"installment:{first.id}:0")
    next_step = reminder(f"installment:{second.id}:0")
    db.commit()
    payment = payments.apply_payment(db, camila, first.amount_minor, "sandbox", "p1", today=TODAY)
    payments.on_payment_applied(db, payment)
    db.commit()
    assert (paid_step.status, paid_step.reason) == ("suppressed", "installment_paid")
    assert next_step.status == "planned"  # the cadence moves on to the next installment
    rest = camila.balance_minor
    payment = payments.apply_payment(db, camila, rest, "sandbox", "p2", today=TODAY)
    payments.on_payment_applied(db, payment)
    db.commit()
    assert (next_step.status, next_step.reason) == ("suppressed", "account_paid")


def test_thanks_outside_the_window_use_the_approved_template_else_sms(db, camila, conversation):
    from datetime import timedelta

    conversation.last_inbound_at = utcnow() - timedelta(hours=30)
    make_checkout(db, camila, 1_000_000)
    _, payment = payments.handle_event(db, "sandbox", event(amount=1_000_000))
    [by_sms] = queued_messages(db, payment)
    row = db.get(Message, by_sms)
    assert row.conversation.channel == "sms" and row.content_sid is None
    spec = db.get(TemplateKey, "payment.thanks")
    spec.content_sid, spec.content_variables = "HX" + "a" * 32, {"1": "amount", "2": "remaining"}
    make_checkout(db, camila, 1_000_000, ref="cs_2")
    _, payment = payments.handle_event(
        db, "sandbox", event(amount=1_000_000, ref="cs_2", event_id="e2")
    )
    [approved] = queued_messages(db, payment)
    row = db.get(Message, approved)
    assert row.conversation.channel == "whatsapp" and row.content_sid == "HX" + "a" * 32
    assert row.content_variables == {"1": "$10.000", "2": "$130.000"}


def test_thanks_outside_the_window_without_template_or_sms_are_suppressed(db, camila, conversation):
    camila.debtor.opted_out_sms_at = utcnow()
    make_checkout(db, camila, 1_000_000)
    _, payment = payments.handle_event(db, "sandbox", event(amount=1_000_000))
    assert queued_messages(db, payment) == []
    actions = db.execute(select(AuditEvent.action)).scalars().all()
    assert "message.suppressed" in actions


def test_no_thank_you_while_an_agent_holds_the_conversation(db, camila, conversation):
    conversation.last_inbound_at = utcnow()
    conversation.state = "agent"
    make_checkout(db, camila, 1_000_000)
    _, payment = payments.handle_event(db, "sandbox", event(amount=1_000_000))
    assert queued_messages(db, payment) == []
    actions = db.execute(select(AuditEvent.action)).scalars().all()
    assert "payment.thanks_held" in actions and camila.balance_minor == 14_000_000
