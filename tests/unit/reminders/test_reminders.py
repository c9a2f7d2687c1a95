"""Planning, dispatching and sending reminders, with a frozen clock (now is passed in)."""

import json
import threading
import time
from datetime import date, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select
from twilio.base.exceptions import TwilioRestException

from bot.clock import utcnow
from bot.models import (
    Account,
    AuditEvent,
    Conversation,
    Debtor,
    Installment,
    Message,
    PaymentPlan,
    Promise,
    ScheduledMessage,
    TemplateKey,
)
from bot.outbound.deliver import ProviderUnavailable
from bot.outbound.status import apply_status
from bot.outbound.throttle import TokenBucket
from bot.redis import redis_conn
from bot.reminders import campaigns, dispatching, planning, segments, sending
from bot.tasks import jobs, periodic, queues
from tests.unit.reminders.conftest import FakeMessages

# Tuesday 2026-11-17, 10:00 in Bogotá: Camila's debt (due 2026-11-10) is 7 days overdue.
NOW = datetime(2026, 11, 17, 15, 0)
CAMILA = "+573001234567"
SID = "HX" + "a" * 32


def rows(db, **where):
    db.expire_all()
    stmt = select(ScheduledMessage).order_by(ScheduledMessage.id)
    for name, value in where.items():
        stmt = stmt.where(getattr(ScheduledMessage, name) == value)
    return db.execute(stmt).scalars().all()


def camila(db):
    return db.execute(select(Debtor).where(Debtor.phone == CAMILA)).scalar_one()


def test_plan_is_idempotent_and_follows_the_cadence(db, demo_debtors):
    report = planning.plan(db, now=NOW)
    planned = {(r.step, r.ref_date) for r in rows(db, debtor_id=camila(db).id)}
    assert planned == {("due:7", date(2026, 11, 10))}
    assert report.planned == len(rows(db))
    assert planning.plan(db, now=NOW).planned == 0  # replanning adds nothing
    row = rows(db, debtor_id=camila(db).id)[0]
    assert (row.segment, row.template_key) == ("default", "reminder.overdue.friendly")
    assert row.variables["amount"] == {"amount": "150000.00", "currency": "COP"}


def test_segments_come_from_the_data(db, demo_debtors):
    account = camila(db).accounts[0]
    db.add(
        Promise(
            account_id=account.id,
            amount_minor=1000,
            promised_date=date(2026, 11, 12),
            status="broken",
            created_by="bot",
        )
    )
    db.commit()
    planning.plan(db, now=NOW)
    row = rows(db, account_id=account.id)[0]
    assert row.segment == "broken_promises"
    assert row.template_key == "reminder.overdue.firm"  # the segment's tone
    assert row.variables["offer"] == "plan"


def test_installment_and_promise_dates_are_planned(db, demo_debtors):
    account = camila(db).accounts[0]
    plan = PaymentPlan(account_id=account.id, total_minor=15000000, created_by="bot")
    plan.installments = [
        Installment(seq=1, due_date=date(2026, 11, 18), amount_minor=5000000),
        Installment(seq=2, due_date=date(2026, 12, 18), amount_minor=5000000),
    ]
    promise = Promise(
        account_id=account.id,
        amount_minor=2000000,
        promised_date=date(2026, 11, 17),
        created_by="bot",
    )
    db.add_all([plan, promise])
    db.commit()
    planning.plan(db, now=NOW)
    steps = {r.step: r for r in rows(db, account_id=account.id)}
    first = plan.installments[0]
    assert f"installment:{first.id}:-1" in steps  # the day before the first installment
    assert f"promise:{promise.id}:0" in steps  # on the promised day
    assert steps[f"promise:{promise.id}:0"].variables["amount"]["amount"] == "20000.00"
    assert not any(s.startswith(f"installment:{plan.installments[1].id}") for s in steps)


def test_dispatch_queues_renders_and_enqueues_inside_the_hours(db, verified):
    planning.plan(db, now=NOW)
    report = dispatching.dispatch(db, now=NOW)
    row = rows(db, debtor_id=camila(db).id)[0]
    assert (row.status, row.channel, row.contacted_at) == (
        "queued",
        "sms",
        NOW,
    )  # no window, no SID
    message = db.get(Message, row.message_id)
    assert message.status == "pending" and message.content_sid is None
    assert "Camila" in message.body and "150.000" in message.body and "/pay/" in message.body
    assert "cuotas" in message.body  # the default segment's offer line
    assert report.queued >= 1
    jobs_enqueued = queues.queue(queues.REMINDERS).jobs
    assert any(row.id in job.args[0] for job in jobs_enqueued)
    assert dispatching.dispatch(db, now=NOW).queued == 0  # nothing is queued twice


def test_dispatch_uses_the_approved_template_outside_the_window(db, verified):
    key = db.get(TemplateKey, "reminder.overdue.friendly")
    key.content_sid, key.content_variables = SID, {"1": "first_name", "2": "amount"}
    db.commit()
    planning.plan(db, now=NOW)
    dispatching.dispatch(db, now=NOW, enqueue=False)
    row = rows(db, debtor_id=camila(db).id)[0]
    message = db.get(Message, row.message_id)
    assert (row.channel, message.content_sid) == ("whatsapp", SID)
    assert message.content_variables["1"] == "Camila"
    assert "150.000" in message.content_variables["2"]


def test_dispatch_uses_free_text_inside_the_window(db, conversation):
    conversation.last_inbound_at = NOW - timedelta(hours=2)
    db.commit()
    planning.plan(db, now=NOW)
    dispatching.dispatch(db, now=NOW, enqueue=False)
    row = rows(db, debtor_id=camila(db).id)[0]
    message = db.get(Message, row.message_id)
    assert (row.channel, message.conversation_id, message.content_sid) == (
        "whatsapp",
        conversation.id,
        None,
    )


def audits(db, action):
    return db.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars().all()


def test_outside_hours_is_deferred_and_a_rule_suppresses_both_with_reasons(db, demo_debtors):
    night = datetime(2026, 11, 18, 3, 0)  # Tuesday 22:00 in Bogotá
    planning.plan(db, now=night)
    dispatching.dispatch(db, now=night, enqueue=False)
    row = rows(db, debtor_id=camila(db).id)[0]
    assert (row.status, row.reason) == ("deferred", "outside_hours")
    assert row.due_at == datetime(2026, 11, 18, 12, 0)  # Wednesday 07:00 Bogotá
    deferred = [e for e in audits(db, "reminder.deferred") if e.subject_id == str(row.id)]
    assert deferred[0].data == {"reason": "outside_hours", "until": "2026-11-18T12:00:00"}
    # Camila disputes the debt before the morning: the deferred reminder is suppressed.
    camila(db).accounts[0].status = "disputed"
    db.commit()
    dispatching.dispatch(db, now=datetime(2026, 11, 18, 12, 0), enqueue=False)
    row = rows(db, debtor_id=camila(db).id)[0]
    assert (row.status, row.reason, row.message_id) == ("suppressed", "disputed", None)
    assert [e.data for e in audits(db, "reminder.suppressed") if e.subject_id == str(row.id)] == [
        {"reason": "disputed"}
    ]


def test_two_accounts_of_one_debtor_get_one_contact_a_day(db, demo_debtors):
    debtor = camila(db)
    db.add(
        Account(
            debtor_id=debtor.id,
            external_id="DEMO-CO-002",
            currency="COP",
            amount_due_minor=100,
            balance_minor=100,
            due_date=date(2026, 11, 10),
        )
    )
    db.commit()
    planning.plan(db, now=NOW)
    dispatching.dispatch(db, now=NOW, enqueue=False)
    statuses = sorted((r.status, r.reason) for r in rows(db, debtor_id=debtor.id))
    assert statuses == [("deferred", "cap_day"), ("queued", None)]


def test_send_goes_once_through_the_rate_limit(app, db, demo_debtors, twilio, buckets):
    planning.plan(db, now=NOW)
    dispatching.dispatch(db, now=NOW, enqueue=False)
    ids = [r.id for r in rows(db, status="queued")]
    sending.send(db, ids, twilio, buckets, now=NOW)
    sending.send(db, ids, twilio, buckets, now=NOW)  # a retried job sends nothing again
    assert len(twilio.messages.created) == len(ids)
    assert {r.status for r in rows(db)} <= {"sent", "deferred", "suppressed"}
    sent = next(c for c in twilio.messages.created if c["to"] == CAMILA)
    assert sent["from_"] == app.config["TWILIO_SMS_FROM"] and "Camila" in sent["body"]


def test_content_sid_send_carries_the_variables(db, conversation, verified, twilio, buckets):
    key = db.get(TemplateKey, "reminder.overdue.friendly")
    key.content_sid, key.content_variables = SID, {"1": "first_name"}
    db.commit()
    planning.plan(db, now=NOW)
    dispatching.dispatch(db, now=NOW, enqueue=False)
    row = rows(db, debtor_id=camila(db).id)[0]
    sending.send(db, [row.id], twilio, buckets, now=NOW)
    created = twilio.messages.created[0]
    assert created["to"] == "whatsapp:" + CAMILA
    assert created["content_sid"] == SID and "body" not in created
    assert json.loads(created["content_variables"]) == {"1": "Camila"}


def test_busy_twilio_is_retried_without_a_second_send(db, demo_debtors, twilio, buckets):
    planning.plan(db, now=NOW)
    dispatching.dispatch(db, now=NOW, enqueue=False)
    row = rows(db, debtor_id=camila(db).id)[0]
    twilio.messages.failures.append(TwilioRestException(429, "uri", "Too Many Requests"))
    with pytest.raises(ProviderUnavailable):
        sending.send(db, [row.id], twilio, buckets, now=NOW)
    assert rows(db, id=row.id)[0].status == "queued"
    sending.send(db, [row.id], twilio, buckets, now=NOW)  # the job's retry
    assert len(twilio.messages.created) == 1
    assert rows(db, id=row.id)[0].status == "sent"


def outside_window():
    return TwilioRestException(400, "uri", "Outside the allowed window", code=63016)


def test_outside_window_falls_back_to_sms(app, db, conversation, twilio, buckets):
    conversation.last_inbound_at = NOW - timedelta(hours=23)  # the gate thinks it is open
    db.commit()
    planning.plan(db, now=NOW)
    dispatching.dispatch(db, now=NOW, enqueue=False)
    row = rows(db, debtor_id=camila(db).id)[0]
    twilio.messages.failures.append(outside_window())
    sending.send(db, [row.id], twilio, buckets, now=NOW)
    row = rows(db, id=row.id)[0]
    assert (row.status, row.channel, row.reason) == ("queued", "sms", "fallback:63016")
    assert not db.get(Conversation, conversation.id).needs_agent
    sending.send(db, [row.id], twilio, buckets, now=NOW)  # the fallback's job
    assert [c["to"] for c in twilio.messages.created] == [CAMILA]
    assert rows(db, id=row.id)[0].status == "sent"


def test_outside_window_without_sms_is_suppressed(db, conversation, twilio, buckets):
    conversation.last_inbound_at = NOW - timedelta(hours=23)
    camila(db).opted_out_sms_at = NOW
    db.commit()
    planning.plan(db, now=NOW)
    dispatching.dispatch(db, now=NOW, enqueue=False)
    row = rows(db, debtor_id=camila(db).id)[0]
    twilio.messages.failures.append(outside_window())
    sending.send(db, [row.id], twilio, buckets, now=NOW)
    row = rows(db, id=row.id)[0]
    assert (row.status, row.reason) == ("suppressed", "outside_window")
    assert twilio.messages.created == []


def test_a_lost_send_job_is_enqueued_again(db, demo_debtors):
    planning.plan(db, now=NOW)
    dispatching.dispatch(db, now=NOW, enqueue=False)
    queued = rows(db, status="queued")
    assert sending.requeue_stale(db, now=utcnow() + timedelta(minutes=11)) == len(queued)
    assert sending.requeue_stale(db, now=utcnow() + timedelta(minutes=12)) == 0
    ids = [i for job in queues.queue(queues.REMINDERS).jobs for i in job.args[0]]
    assert sorted(ids) == sorted(r.id for r in queued)


def test_campaign_for_a_segment(db, demo_debtors):
    report = campaigns.schedule_campaign(
        db, "black-friday", "reminder.due.friendly", segment="default", now=NOW
    )
    assert (
        report.planned
        == db.execute(
            select(func.count()).select_from(Account).where(Account.status == "open")
        ).scalar()
    )
    again = campaigns.schedule_campaign(db, "black-friday", "reminder.due.friendly", now=NOW)
    assert again.planned == 0
    with pytest.raises(segments.ReminderError):
        campaigns.schedule_campaign(db, "x", "no.such.key", now=NOW)


def test_token_bucket_is_shared_and_holds_the_rate(app):
    with app.app_context():
        redis = redis_conn()
    rate, takes = 200, 100
    taken = []

    def worker():
        bucket = TokenBucket(redis, "shared", rate, burst=10)  # one bucket object per "worker"
        for _ in range(takes // 4):
            assert bucket.take(timeout=10)
            taken.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    # 10 come from the burst, the other 90 at 200/s: at least 0.45 s whatever the workers do.
    assert len(taken) == takes and elapsed >= (takes - 10) / rate * 0.95


def test_cli_edits_segments_rules_and_template_sids(app, db):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "reminders",
            "segment-set",
            "vip",
            "--priority",
            "5",
            "--criteria",
            '{"min_payments": 3}',
            "--cadence",
            "due:-1,due:2",
            "--tone",
            "friendly",
            "--offer",
            "none",
        ]
    )
    assert result.exit_code == 0, result.output
    listing = runner.invoke(args=["reminders", "segments"]).output
    assert "vip" in listing and "due:-1,due:2" in listing
    bad = runner.invoke(args=["reminders", "segment-set", "vip", "--cadence", "later:1"])
    assert bad.exit_code != 0 and "kind" in bad.output
    result = runner.invoke(args=["reminders", "rule-set", "co", "--max-per-week", "1"])
    assert result.exit_code == 0, result.output
    listing = runner.invoke(args=["reminders", "rules"]).output
    assert "per_week=1" in listing and "max_per_week: policy:CO" in listing
    assert "max_per_day: law:co.frequency" in listing  # the law's own cap, with its source
    bad = runner.invoke(args=["reminders", "rule-set", "CO", "--hours", '{"mon": ["9", "8"]}'])
    assert bad.exit_code != 0
    result = runner.invoke(
        args=[
            "reminders",
            "template-sid",
            "reminder.due.friendly",
            SID,
            "--variables",
            '{"1": "first_name"}',
        ]
    )
    assert result.exit_code == 0, result.output
    db.expire_all()
    assert db.get(TemplateKey, "reminder.due.friendly").content_sid == SID
    bad = runner.invoke(args=["reminders", "template-sid", "reminder.due.friendly", "nope"])
    assert bad.exit_code != 0


def test_job_app_tick_plans_and_dispatches(app, db, demo_debtors):
    jobs.set_job_app(app)
    try:
        with app.app_context():
            report = periodic.reminders_tick(now=NOW)
        assert report.queued >= 1
        assert rows(db, debtor_id=camila(db).id)[0].status == "queued"
    finally:
        jobs.set_job_app(None)


def test_a_63016_status_callback_falls_back_to_sms(db, conversation, twilio, buckets):
    conversation.last_inbound_at = NOW - timedelta(hours=23)
    db.commit()
    planning.plan(db, now=NOW)
    dispatching.dispatch(db, now=NOW, enqueue=False)
    row = rows(db, debtor_id=camila(db).id)[0]
    sending.send(db, [row.id], twilio, buckets, now=NOW)
    whatsapp = db.get(Message, row.message_id)
    assert apply_status(db, whatsapp.provider_sid, "failed", "63016")
    row = rows(db, id=row.id)[0]
    assert (row.status, row.channel, row.reason) == ("queued", "sms", "fallback:63016")
    assert row.message_id != whatsapp.id
    assert not db.get(Conversation, conversation.id).needs_agent


def test_sandbox_accepts_a_content_sid(app, client, db):
    from bot.models import SandboxMessage

    sid = app.config["TWILIO_ACCOUNT_SID"]
    response = client.post(
        f"/sandbox/twilio/2010-04-01/Accounts/{sid}/Messages.json",
        data={
            "To": "whatsapp:" + CAMILA,
            "From": app.config["TWILIO_WHATSAPP_FROM"],
            "ContentSid": SID,
            "ContentVariables": '{"1": "Camila"}',
        },
        auth=(sid, app.config["TWILIO_AUTH_TOKEN"]),
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    stored = db.execute(select(SandboxMessage)).scalar_one()
    assert stored.body == f'[template {SID}] {{"1": "Camila"}}'


def test_a_send_twilio_took_before_a_5xx_is_reconciled_not_repeated(db, demo_debtors, buckets):
    class TakesThenFails(FakeMessages):
        def create(self, **kwargs):
            sent = super().create(**kwargs)
            if len(self.created) == 1:
                raise TwilioRestException(502, "uri", "Bad Gateway")  # after taking it
            return sent

    twilio = SimpleNamespace(messages=TakesThenFails())
    planning.plan(db, now=NOW)
    dispatching.dispatch(db, now=NOW, enqueue=False)
    row = rows(db, debtor_id=camila(db).id)[0]
    with pytest.raises(ProviderUnavailable):
        sending.send(db, [row.id], twilio, buckets, now=NOW)
    assert db.get(Message, row.message_id).status == "sending"
    sending.send(db, [row.id], twilio, buckets, now=NOW)  # the retry asks Twilio first
    assert len(twilio.messages.created) == 1
    row = rows(db, id=row.id)[0]
    assert row.status == "sent"
    assert db.get(Message, row.message_id).provider_sid == "SM" + "0" * 31 + "1"


def test_a_reminder_another_job_is_sending_is_skipped(app, db, demo_debtors, twilio, buckets):
    planning.plan(db, now=NOW)
    dispatching.dispatch(db, now=NOW, enqueue=False)
    row = rows(db, debtor_id=camila(db).id)[0]
    lock = redis_conn().lock(f"lock:reminder:{row.id}", timeout=30)
    assert lock.acquire(blocking=False)
    sending.send(db, [row.id], twilio, buckets, now=NOW)
    assert twilio.messages.created == [] and rows(db, id=row.id)[0].status == "queued"
    lock.release()
    sending.send(db, [row.id], twilio, buckets, now=NOW)
    assert len(twilio.messages.created) == 1


def test_steps_fall_due_in_the_debtors_own_calendar(db, demo_debtors):
    jorge = db.execute(select(Debtor).where(Debtor.country == "MX")).scalar_one()
    # Jorge's debt is due 2026-12-05: "3 days before" is 2026-12-02 in Mexico City (UTC-6).
    planning.plan(db, now=datetime(2026, 12, 2, 5, 59))  # 23:59 on Dec 1 there
    assert rows(db, debtor_id=jorge.id) == []
    planning.plan(db, now=datetime(2026, 12, 2, 6, 0))  # midnight there
    assert [r.step for r in rows(db, debtor_id=jorge.id)] == ["due:-3"]


def test_a_kept_promise_or_paid_installment_is_not_reminded(db, demo_debtors):
    account = camila(db).accounts[0]
    plan = PaymentPlan(account_id=account.id, total_minor=100, created_by="bot")
    plan.installments = [Installment(seq=1, due_date=date(2026, 11, 17), amount_minor=100)]
    promise = Promise(
        account_id=account.id, amount_minor=100, promised_date=date(2026, 11, 17), created_by="bot"
    )
    db.add_all([plan, promise])
    db.commit()
    planning.plan(db, now=NOW)
    plan.installments[0].status, promise.status = "paid", "kept"
    db.commit()
    dispatching.dispatch(db, now=NOW, enqueue=False)
    reasons = {r.step.split(":")[0]: (r.status, r.reason) for r in rows(db, account_id=account.id)}
    assert reasons["installment"] == ("suppressed", "installment_paid")
    assert reasons["promise"] == ("suppressed", "promise_settled")
    assert "due" not in reasons  # with a promise pending, the balance is not chased as overdue


def test_a_debt_on_a_plan_is_reminded_of_installments_not_the_whole_balance(db, demo_debtors):
    account = camila(db).accounts[0]
    plan = PaymentPlan(account_id=account.id, total_minor=100, created_by="bot")
    plan.installments = [Installment(seq=1, due_date=date(2026, 11, 17), amount_minor=100)]
    account.status = "plan"
    db.add(plan)
    db.commit()
    planning.plan(db, now=NOW)
    steps = [r.step.split(":")[0] for r in rows(db, account_id=account.id)]
    assert set(steps) == {"installment"}  # the day before and the day itself


def test_cli_plan_dispatch_and_campaign_dry_runs(app, db, demo_debtors):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["reminders", "plan"])
    assert result.exit_code == 0 and "reminder(s) planned" in result.output
    before = rows(db)
    result = runner.invoke(args=["reminders", "dispatch", "--dry-run"])
    assert result.exit_code == 0 and "queued" in result.output
    assert [(r.id, r.status) for r in rows(db)] == [(r.id, r.status) for r in before]
    result = runner.invoke(
        args=["campaign", "run", "--name", "x", "--template", "reminder.due.friendly", "--dry-run"]
    )
    assert result.exit_code == 0 and "dry run: 5 account(s) read, 5 reminder(s)" in result.output
    assert len(rows(db)) == len(before)
    bad = runner.invoke(args=["campaign", "run", "--name", "x", "--template", "nope"])
    assert bad.exit_code != 0 and "unknown template key" in bad.output


def test_a_queued_reminder_is_checked_again_when_it_is_sent(app, db, demo_debtors, twilio, buckets):
    """A reminder queued before an outage may go out much later: the gate's rules and hours
    apply again at send time."""
    planning.plan(db, now=NOW)
    dispatching.dispatch(db, now=NOW, enqueue=False)
    opted, held = rows(db, status="queued")[:2]
    opted_debtor = db.get(Debtor, opted.debtor_id)
    opted_debtor.opted_out_whatsapp_at = opted_debtor.opted_out_sms_at = NOW
    db.get(Message, held.message_id).conversation.state = "agent"  # an agent claimed it
    db.commit()
    ids = [opted.id, held.id]
    sending.send(db, ids, twilio, buckets, now=NOW)
    assert twilio.messages.created == []
    by_id = {r.id: r for r in rows(db) if r.id in ids}
    assert by_id[opted.id].status == "suppressed"
    assert by_id[opted.id].reason.startswith("opted_out_")
    # The agent's conversation: it waits for the hand-back instead of being dropped.
    assert (by_id[held.id].status, by_id[held.id].reason) == ("deferred", "agent_held")
    assert by_id[held.id].contacted_at is None
    # The same reminder queued again, but now it is 23:00 in Bogota: it waits for the morning.
    opted_debtor.opted_out_whatsapp_at = opted_debtor.opted_out_sms_at = None
    row, message = by_id[opted.id], db.get(Message, opted.message_id)
    row.status, message.status = "queued", "pending"
    db.commit()
    late = datetime(2026, 11, 18, 4, 0)
    sending.send(db, [row.id], twilio, buckets, now=late)
    assert twilio.messages.created == []
    [row] = [r for r in rows(db) if r.id == opted.id]
    assert (row.status, row.reason) == ("deferred", "outside_hours") and row.due_at > late
    assert db.get(Message, opted.message_id).status == "suppressed"


def test_a_late_installment_is_still_reminded(db, demo_debtors):
    """The daily accrual marks an unpaid installment late: still owed, so still reminded."""
    account = camila(db).accounts[0]
    plan = PaymentPlan(account_id=account.id, total_minor=100, created_by="bot")
    plan.installments = [Installment(seq=1, due_date=date(2026, 11, 17), amount_minor=100)]
    account.status = "plan"
    db.add(plan)
    db.commit()
    planning.plan(db, now=NOW)
    plan.installments[0].status = "late"
    db.commit()
    dispatching.dispatch(db, now=NOW, enqueue=False)
    found = [(r.step.split(":")[0], r.reason) for r in rows(db, account_id=account.id)]
    assert found and all(reason != "installment_paid" for _, reason in found)
