from datetime import timedelta

import pytest
from redis import Redis
from rq import Queue
from sqlalchemy import select

from bot import clock, users
from bot.clock import utcnow
from bot.conversations import handover
from bot.conversations.escalation import mark_for_agent
from bot.debts import resolutions
from bot.models import (
    AuditEvent,
    Conversation,
    ConversationNote,
    Dispute,
    Message,
    Payment,
    PaymentClaim,
    Promise,
)
from bot.tasks.queues import MAINTENANCE, OUTBOUND
from tests.console import PASSWORD, form_token, https_client, sign_in


@pytest.fixture
def ana(db):
    user, _ = users.create_user(db, "ana@example.com", PASSWORD, "agent")
    db.commit()
    return user


@pytest.fixture
def beto(db):
    user, _ = users.create_user(db, "beto@example.com", PASSWORD, "agent")
    db.commit()
    return user


@pytest.fixture
def admin(db):
    user, _ = users.create_user(db, "boss@example.com", PASSWORD, "admin")
    db.commit()
    return user


@pytest.fixture
def held(db, conversation, ana):
    """Camila's conversation, escalated and claimed by Ana, inside WhatsApp's window."""
    conversation.last_inbound_at = utcnow()
    mark_for_agent(db, conversation, "request_agent")
    db.commit()
    assert handover.claim(db, conversation.id, ana)
    db.commit()
    return conversation


def test_two_agents_cannot_both_claim(db, conversation, ana, beto):
    mark_for_agent(db, conversation, "dispute")
    db.commit()
    assert handover.claim(db, conversation.id, ana)
    db.commit()
    assert not handover.claim(db, conversation.id, beto)
    db.refresh(conversation)
    assert conversation.state == "agent" and conversation.agent_id == ana.id
    assert handover.claim(db, conversation.id, ana)  # claiming again is harmless


def test_queue_is_by_priority_then_oldest(db, demo_debtors):
    from bot.models import Debtor

    debtors = db.execute(select(Debtor).order_by(Debtor.id)).scalars().all()
    now = utcnow()
    for debtor, reason, minutes in zip(
        debtors[:4],
        ["request_agent", "request_agent", "dispute", "wrong_number"],
        [5, 30, 1, 60],
        strict=True,
    ):
        conv = Conversation(channel="whatsapp", address=debtor.phone, debtor=debtor)
        db.add(conv)
        db.flush()
        mark_for_agent(db, conv, reason)
        conv.escalated_at = now - timedelta(minutes=minutes)
    db.add(Conversation(channel="sms", address="+15550001111"))  # not escalated
    db.commit()
    order = [c.agent_reason for c in handover.queue(db)]
    assert order == ["dispute", "request_agent", "request_agent", "wrong_number"]
    waiting = [c.escalated_at for c in handover.queue(db)][1:3]
    assert waiting[0] < waiting[1]  # the one waiting 30 min comes before the one waiting 5


def test_reply_inside_the_window_and_refused_outside(db, held, ana):
    row = handover.agent_reply(db, held, ana, "  Hola Camila, te ayudo  ")
    db.commit()
    assert row.body == "Hola Camila, te ayudo" and row.author_id == ana.id
    assert row.status == "pending" and row.direction == "out"
    held.last_inbound_at = utcnow() - timedelta(hours=25)
    with pytest.raises(handover.HandoverError, match="24-hour window is closed"):
        handover.agent_reply(db, held, ana, "hola")
    held.channel = "sms"  # SMS has no window
    assert handover.agent_reply(db, held, ana, "hola").body == "hola"


def test_only_the_holder_acts(db, held, beto):
    with pytest.raises(handover.HandoverError, match="Claim the conversation"):
        handover.agent_reply(db, held, beto, "hola")
    with pytest.raises(handover.HandoverError, match="Claim the conversation"):
        handover.add_note(db, held, beto, "una nota de otro agente")


def test_notes_are_never_sent(db, held, ana):
    handover.add_note(db, held, ana, "llamar el lunes")
    db.commit()
    assert db.query(ConversationNote).count() == 1
    assert db.query(Message).filter_by(direction="out").count() == 0


def test_hand_back_tells_the_debtor_and_clears_the_queue(db, held, ana):
    row = handover.hand_back(db, held, ana)
    db.commit()
    assert held.state == "bot" and held.agent_id is None and not held.needs_agent
    assert row.template_key == "agent.handed_back" and "asistente automático" in row.body
    actions = [e.action for e in db.query(AuditEvent).order_by(AuditEvent.id)]
    assert "conversation.claimed" in actions and "conversation.handed_back" in actions
    assert handover.queue(db) == []


def test_promise_within_policy_and_admin_override(db, held, ana, admin):
    account = held.debtor.accounts[0]
    soon = clock.today_for(held.debtor) + timedelta(days=3)
    resolutions.record_promise(db, held, ana, account.id, soon)
    far = clock.today_for(held.debtor) + timedelta(days=200)
    with pytest.raises(handover.HandoverError, match="Only an admin"):
        resolutions.record_promise(db, held, ana, account.id, far)
    with pytest.raises(handover.HandoverError, match="needs a reason"):
        resolutions.record_promise(db, held, admin, account.id, far)
    resolutions.record_promise(db, held, admin, account.id, far, "hospitalised, manager approved")
    db.commit()
    assert [p.promised_date for p in db.query(Promise).order_by(Promise.id)] == [soon, far]
    event = (
        db.query(AuditEvent).filter_by(action="promise.recorded").order_by(AuditEvent.id).all()[-1]
    )
    assert event.data["override_reason"] == "hospitalised, manager approved"


def test_plan_outside_policy_needs_an_admin(db, held, ana, admin):
    account = held.debtor.accounts[0]
    with pytest.raises(handover.HandoverError, match="policy allows 12 installments"):
        resolutions.create_plan(db, held, ana, account.id, 40)
    plan = resolutions.create_plan(db, held, ana, account.id, 3)
    db.commit()
    assert len(plan.installments) == 3 and account.status == "plan"
    assert sum(i.amount_minor for i in plan.installments) == plan.total_minor


def test_confirm_a_claim_applies_the_payment(db, held, ana):
    account = held.debtor.accounts[0]
    claim = PaymentClaim(
        account=account, claimed_amount_minor=5_000_000, currency=account.currency, words="pagué"
    )
    account.status = "claim_review"
    db.add(claim)
    db.commit()
    before = account.balance_minor
    resolutions.confirm_claim(db, held, ana, claim.id)
    db.commit()
    assert claim.status == "confirmed" and claim.resolved_by == f"agent:{ana.id}"
    assert account.balance_minor == before - 5_000_000 and account.status == "open"
    assert db.query(Payment).one().provider_ref == f"claim:{claim.id}"
    with pytest.raises(handover.HandoverError, match="already confirmed"):
        resolutions.reject_claim(db, held, ana, claim.id)


def test_dispute_upheld_closes_the_debt_rejected_resumes(db, held, ana):
    account = held.debtor.accounts[0]
    dispute = Dispute(account=account, words="no es mía")
    account.status = "disputed"
    db.add(dispute)
    db.commit()
    resolutions.resolve_dispute(db, held, ana, dispute.id, upheld=False)
    assert account.status == "open" and dispute.status == "rejected"
    other = Dispute(account=account, words="ya la pagué")
    db.add(other)
    db.commit()
    resolutions.resolve_dispute(db, held, ana, other.id, upheld=True)
    assert account.status == "closed"


def test_a_debt_of_someone_else_is_refused(db, held, ana, demo_debtors):
    from bot.models import Account

    foreign = db.query(Account).filter(Account.debtor_id != held.debtor_id).first()
    with pytest.raises(handover.HandoverError, match="not this debtor's"):
        resolutions.send_payment_link(db, held, ana, foreign.id)


# -- the console's views -------------------------------------------------------------------


def signed_in(app, email):
    client = https_client(app)
    sign_in(client, email)
    return client, form_token(client, "/console/")


def test_console_claim_reply_and_hand_back(app, db, conversation, ana, beto):
    conversation.last_inbound_at = utcnow()
    mark_for_agent(db, conversation, "hardship")
    db.commit()
    redis = Redis.from_url(app.config["REDIS_URL"])
    path = f"/console/conversations/{conversation.id}"
    client, _ = signed_in(app, "ana@example.com")
    queue = client.get("/console/api/queue", headers={"Accept": "application/json"}).get_json()
    [item] = queue["items"]
    assert item["reason_label"] == "Hardship" and item["address"].endswith("567")
    assert "3001234567" not in str(queue)  # the number is masked
    token = form_token(client, path)
    assert client.post(f"{path}/claim", data={"csrf_token": token}).status_code == 303
    assert len(Queue(MAINTENANCE, connection=redis)) == 1  # pause Rasa on it

    rival, rival_token = signed_in(app, "beto@example.com")
    rival_token = form_token(rival, path)
    rival.post(f"{path}/claim", data={"csrf_token": rival_token})
    page = rival.get(path).get_data(as_text=True)
    assert "Another agent has already claimed" in page
    assert (
        rival.post(f"{path}/reply", data={"csrf_token": rival_token, "text": "x"}).status_code
        == 303
    )
    assert db.query(Message).filter_by(direction="out").count() == 0

    token = form_token(client, path)
    client.post(f"{path}/reply", data={"csrf_token": token, "text": "Hola Camila"})
    assert len(Queue(OUTBOUND, connection=redis)) == 1
    body = client.get(f"/console/api/conversations/{conversation.id}").get_json()
    assert body["state"] == "agent" and body["messages"][-1]["body"] == "Hola Camila"
    client.post(f"{path}/hand-back", data={"csrf_token": token})
    db.expire_all()
    assert db.get(Conversation, conversation.id).state == "bot"
    assert len(Queue(OUTBOUND, connection=redis)) == 2  # the reply and the hand-back message


def test_console_action_errors_are_shown_not_500(app, db, held):
    client, _ = signed_in(app, "ana@example.com")
    path = f"/console/conversations/{held.id}"
    token = form_token(client, path)
    account = held.debtor.accounts[0]
    response = client.post(
        f"{path}/promise",
        data={"csrf_token": token, "account_id": account.id, "date": "not a date"},
    )
    assert response.status_code == 303
    assert "YYYY-MM-DD" in client.get(path).get_data(as_text=True)
    far = (clock.today_for(held.debtor) + timedelta(days=300)).isoformat()
    client.post(
        f"{path}/promise", data={"csrf_token": token, "account_id": account.id, "date": far}
    )
    assert "Only an admin may override" in client.get(path).get_data(as_text=True)
    assert db.query(Promise).count() == 0


def test_sweep_sends_an_agent_message_whose_job_was_lost(app, db, held, ana):
    from bot.tasks import periodic

    app.config["SWEEP_MIN_AGE"] = 0
    lost = handover.agent_reply(db, held, ana, "Hola Camila")
    db.commit()
    redis = Redis.from_url(app.config["REDIS_URL"])
    outbound = Queue(OUTBOUND, connection=redis)
    assert [job.args[0] for job in outbound.jobs] == [lost.id]  # enqueued once committed
    redis.flushdb()  # Redis restarted empty
    with app.app_context():
        assert periodic.sweep() == 1
        assert periodic.sweep() == 0  # it has a live job now
    assert [job.args[0] for job in outbound.jobs] == [lost.id]


@pytest.mark.parametrize("bad", ["²", "99999999999999999999", "-1", "", "abc"])
def test_bad_ids_are_refused_clearly(db, held, ana, bad):
    with pytest.raises(handover.HandoverError, match="not this debtor's"):
        resolutions.send_payment_link(db, held, ana, bad)
    with pytest.raises(handover.HandoverError, match="not this debtor's"):
        resolutions.confirm_claim(db, held, ana, bad)


@pytest.mark.parametrize("count", [0, 1, 121, 100_000])
def test_even_an_admin_plan_has_sane_bounds(db, held, admin, count):
    handover.take_over(db, held.id, admin, "Ana is off sick")
    account = held.debtor.accounts[0]
    with pytest.raises(handover.HandoverError, match="between 2 and 120"):
        resolutions.create_plan(db, held, admin, account.id, count, "approved")


def test_admin_takes_over_with_a_reason_and_agents_cannot(db, held, ana, beto, admin):
    with pytest.raises(handover.HandoverError, match="Only an admin"):
        handover.take_over(db, held.id, beto, "mine now")
    with pytest.raises(handover.HandoverError, match="needs a reason"):
        handover.take_over(db, held.id, admin, "  ")
    handover.take_over(db, held.id, admin, "Ana went home")
    db.commit()
    assert held.agent_id == admin.id and held.state == "agent"
    event = db.query(AuditEvent).filter_by(action="conversation.taken_over").one()
    assert event.data == {"from_agent_id": ana.id, "reason": "Ana went home"}


def test_release_returns_it_to_the_queue(db, held, ana, beto):
    handover.release(db, held, ana)
    db.commit()
    assert held.state == "bot" and held.needs_agent and held.agent_id is None
    assert handover.claim(db, held.id, beto)


def test_nul_characters_never_reach_the_database(db, held, ana):
    row = handover.agent_reply(db, held, ana, "ho\x00la")
    note = handover.add_note(db, held, ana, "no\x00ta")
    assert row.body == "hola" and note.body == "nota"


def test_console_bad_numbers_are_a_message_not_a_500(app, db, held):
    client, _ = signed_in(app, "ana@example.com")
    path = f"/console/conversations/{held.id}"
    token = form_token(client, path)
    for value in ("²", "9" * 30, ""):
        response = client.post(
            f"{path}/plan", data={"csrf_token": token, "account_id": "1", "installments": value}
        )
        assert response.status_code == 303
    assert "Installments must be a number" in client.get(path).get_data(as_text=True)
    assert client.get("/console/conversations/99999999999999999999").status_code == 404


def test_outside_the_window_an_agent_sends_only_approved_templates(db, held, ana):
    from bot.models import TemplateKey

    held.last_inbound_at = utcnow() - timedelta(hours=25)
    assert handover.agent_template_keys(db, held) == []
    with pytest.raises(handover.HandoverError, match="no approved template"):
        handover.agent_template(db, held, ana, "agent.follow_up", {"first_name": "Camila"})
    spec = db.get(TemplateKey, "agent.follow_up")
    spec.content_sid, spec.content_variables = "HX" + "1" * 32, {"1": "first_name"}
    assert handover.agent_template_keys(db, held) == ["agent.follow_up"]
    row = handover.agent_template(db, held, ana, "agent.follow_up", {"first_name": "Camila"})
    assert row.content_sid == "HX" + "1" * 32 and row.content_variables == {"1": "Camila"}
    assert handover.hand_back(db, held, ana) is None  # nothing free-form outside the window
