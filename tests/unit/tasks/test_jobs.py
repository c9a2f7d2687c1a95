from types import SimpleNamespace

import pytest
import requests
from redis import Redis
from sqlalchemy import select
from twilio.base.exceptions import TwilioRestException

from bot.clock import utcnow
from bot.conversations import rasa_client, turn
from bot.conversations.inbound import store_inbound
from bot.models import Conversation, Message
from bot.outbound.compose import queue_outbound
from bot.outbound.deliver import ProviderUnavailable
from bot.tasks import jobs, periodic


class FakeMessages:
    """Stands in for client.messages: records creates, can fail, can list."""

    def __init__(self):
        self.created = []
        self.failures = []

    def create(self, **kwargs):
        if self.failures:
            raise self.failures.pop(0)
        self.created.append({**kwargs, "date_created": utcnow()})
        return SimpleNamespace(sid=f"SM{len(self.created):032d}", status="queued")

    def list(self, to=None, from_=None, **_):
        """Newest first, like Twilio; queued messages have no date sent."""
        return [
            SimpleNamespace(
                sid=f"SM{i + 1:032d}",
                status="queued",
                body=c["body"],
                date_created=c["date_created"],
            )
            for i, c in reversed(list(enumerate(self.created)))
            if to is None or (c["to"] == to and c["from_"] == from_)
        ]


@pytest.fixture
def twilio(monkeypatch):
    fake = SimpleNamespace(messages=FakeMessages())
    monkeypatch.setattr(jobs, "get_client", lambda: fake)
    monkeypatch.setattr(periodic, "get_client", lambda: fake)
    return fake.messages


@pytest.fixture
def rasa(monkeypatch):
    calls = []
    answers = {"hola": [{"custom": {"template": "greet"}}, {"custom": {"template": "verify.ask"}}]}

    def send(sender_id, text, metadata):
        calls.append((sender_id, text, metadata))
        if isinstance(answers.get(text), Exception):
            raise answers[text]
        return answers.get(text, [{"custom": {"template": "fallback"}}])

    monkeypatch.setattr(rasa_client, "send", send)
    # Rasa's tracker knows nothing of an earlier attempt unless a test says otherwise.
    monkeypatch.setattr(rasa_client, "answers_already_given", lambda sender_id, message_id: None)
    return SimpleNamespace(calls=calls, answers=answers)


@pytest.fixture
def inbound(app, db, demo_debtors):
    jobs.set_job_app(app)

    def _inbound(body="hola", sid=None):
        form = {
            "MessageSid": sid or f"SM{abs(hash((body, len(db.new)))) % 10**32:032d}",
            "From": "whatsapp:+573001234567",
            "Body": body,
        }
        message, _ = store_inbound(db, form, 4096)
        return message

    yield _inbound
    jobs.set_job_app(None)


def replies(db, message_id):
    db.expire_all()
    return (
        db.execute(select(Message).where(Message.reply_to_id == message_id).order_by(Message.seq))
        .scalars()
        .all()
    )


def test_message_answered_in_order_with_rendered_templates(db, inbound, rasa, twilio):
    message = inbound("hola")
    jobs.process_inbound(message.id)
    assert [c["body"][:5] for c in twilio.created] == ["¡Hola", "Por t"]
    assert all(c["to"] == "whatsapp:+573001234567" for c in twilio.created)
    assert twilio.created[0]["status_callback"] == "https://bot.example.test/webhooks/twilio/status"
    sender_id, text, metadata = rasa.calls[0]
    assert (text, metadata["channel"], metadata["locale"]) == ("hola", "whatsapp", "es-CO")
    assert sender_id == message.conversation_id
    rows = replies(db, message.id)
    assert [r.status for r in rows] == ["queued", "queued"]
    assert rows[0].provider_sid and rows[0].template_key == "greet"
    assert db.get(Message, message.id).status == "processed"


def test_running_twice_sends_once(db, inbound, rasa, twilio):
    message = inbound("hola")
    jobs.process_inbound(message.id)
    jobs.process_inbound(message.id)
    assert len(twilio.created) == 2 and len(rasa.calls) == 1


def test_pending_messages_of_a_conversation_go_in_arrival_order(app, db, inbound, rasa, twilio):
    first, second, third = inbound("uno", "SM1"), inbound("dos", "SM2"), inbound("tres", "SM3")
    Redis.from_url(app.config["REDIS_URL"]).flushdb()  # the first messages' jobs were lost
    jobs.process_inbound(third.id)  # the last job to arrive still answers the first message first
    assert [c[1] for c in rasa.calls] == ["uno", "dos", "tres"]
    db.expire_all()
    for message in (first, second, third):
        assert db.get(Message, message.id).status == "processed"


def test_a_job_leaves_older_messages_to_their_own_job(app, db, inbound, rasa, twilio):
    """Only the message actually tried counts an attempt: the jobs of later messages in the
    conversation do not each try the oldest one again while its own job is waiting."""
    first, second = inbound("uno", "SM1"), inbound("dos", "SM2")
    jobs.process_inbound(second.id)  # the first message's job is still queued
    assert rasa.calls == []
    db.expire_all()
    assert db.get(Message, first.id).attempts == 0
    jobs.process_inbound(first.id)  # its own job answers both, in order
    assert [c[1] for c in rasa.calls] == ["uno", "dos"]
    db.expire_all()
    assert [db.get(Message, m.id).attempts for m in (first, second)] == [1, 1]


@pytest.mark.parametrize(("status", "left_as"), [(503, "sending"), (429, "pending")])
def test_twilio_busy_is_retried_and_sent_once(
    db, inbound, rasa, twilio, monkeypatch, status, left_as
):
    monkeypatch.setattr(jobs, "final_attempt", lambda: False)
    twilio.failures.append(TwilioRestException(status, "uri", "unavailable"))
    message = inbound("hola")
    with pytest.raises(ProviderUnavailable):
        jobs.process_inbound(message.id)
    # A 5xx may come after Twilio took the message, so it is checked before being resent.
    assert [r.status for r in replies(db, message.id)] == [left_as, "pending"]
    jobs.process_inbound(message.id)  # the retry
    assert len(twilio.created) == 2 and len(rasa.calls) == 1


def test_reconciliation_never_takes_an_earlier_reply_with_the_same_words(
    db, inbound, rasa, twilio, monkeypatch
):
    monkeypatch.setattr(jobs, "final_attempt", lambda: False)
    rasa.answers["otra vez"] = [{"custom": {"template": "verify.ask"}}]
    first = inbound("hola")
    jobs.process_inbound(first.id)  # greet + verify.ask, both sent and recorded
    second = inbound("otra vez")
    twilio.failures.append(requests.ReadTimeout("read timed out"))  # never reached Twilio
    with pytest.raises(ProviderUnavailable):
        jobs.process_inbound(second.id)
    assert replies(db, second.id)[0].status == "sending"
    jobs.process_inbound(second.id)
    bodies = [c["body"] for c in twilio.created]
    assert len(bodies) == 3 and bodies[1] == bodies[2]  # the same words, sent again: not lost
    row = replies(db, second.id)[0]
    assert row.provider_sid == f"SM{3:032d}"


def test_a_retry_reuses_answers_rasa_already_gave(db, inbound, rasa, twilio, monkeypatch):
    """The first attempt reached Rasa but died before recording; the retry must not run the
    turn in Rasa again (a verification attempt would count twice)."""
    monkeypatch.setattr(jobs, "final_attempt", lambda: False)
    message = inbound("hola")
    message.attempts = 1  # as if an earlier attempt had sent it to Rasa
    db.commit()
    given = [{"text": None, "custom": {"template": "greet"}}]
    seen = []

    def already(sender_id, message_id):
        seen.append(message_id)
        return given

    monkeypatch.setattr(rasa_client, "answers_already_given", already)
    jobs.process_inbound(message.id)
    assert seen == [message.id] and rasa.calls == []
    assert [c["body"][:5] for c in twilio.created] == ["¡Hola"]


def test_interrupted_send_is_reconciled_not_repeated(db, inbound, rasa, twilio, monkeypatch):
    monkeypatch.setattr(jobs, "final_attempt", lambda: False)
    message = inbound("hola")
    original = twilio.create

    def accepted_then_timeout(**kwargs):
        original(**kwargs)  # Twilio took it, but the answer never came back
        raise requests.ReadTimeout("read timed out")

    twilio.create = accepted_then_timeout
    with pytest.raises(ProviderUnavailable):
        jobs.process_inbound(message.id)
    assert [r.status for r in replies(db, message.id)] == ["sending", "pending"]
    twilio.create = original
    jobs.process_inbound(message.id)
    assert [c["body"][:5] for c in twilio.created] == ["¡Hola", "Por t"]
    rows = replies(db, message.id)
    assert rows[0].provider_sid == "SM" + "1".zfill(32) and rows[0].status == "queued"


def test_refused_connection_is_not_an_uncertain_send(db, inbound, rasa, twilio, monkeypatch):
    monkeypatch.setattr(jobs, "final_attempt", lambda: False)
    twilio.failures.append(requests.ConnectionError("NewConnectionError: Connection refused"))
    message = inbound("hola")
    with pytest.raises(ProviderUnavailable):
        jobs.process_inbound(message.id)
    assert replies(db, message.id)[0].status == "pending"


def test_rasa_down_retries_then_hands_to_agents(db, inbound, rasa, twilio, travel):
    """Only after OUTAGE_GIVE_UP_MINUTES (30) of failed tries does a message go to agents,
    whatever the job's own retries say."""
    rasa.answers["hola"] = rasa_client.RasaUnavailable("down")
    message = inbound("hola")
    for minutes in (0, 5, 29):  # the job's last retry, but not yet the message's bound
        if minutes:
            travel(minutes=minutes - (5 if minutes == 29 else 0))
        with pytest.raises(rasa_client.RasaUnavailable):
            jobs.process_inbound(message.id)
        db.expire_all()
        assert db.get(Message, message.id).status == "received"
    travel(minutes=2)
    jobs.process_inbound(message.id)
    db.expire_all()
    stored = db.get(Message, message.id)
    assert stored.status == "failed" and stored.body == "hola"
    assert stored.error_code == "bot_unavailable" and stored.attempts == 4
    assert stored.conversation.needs_agent and stored.conversation.agent_reason == "bot_unavailable"
    assert twilio.created == []


def test_a_message_failed_in_an_outage_is_answered_when_rasa_is_back(
    app, db, inbound, rasa, twilio, travel, monkeypatch
):
    rasa.answers["hola"] = rasa_client.RasaUnavailable("down")
    message = inbound("hola")
    with pytest.raises(rasa_client.RasaUnavailable):
        jobs.process_inbound(message.id)
    travel(minutes=31)
    jobs.process_inbound(message.id)  # given up: the agents' queue
    monkeypatch.setattr(rasa_client, "healthy", lambda: False)
    with app.app_context():
        assert periodic.revive_failed(utcnow()) == 0  # still down: left alone
    del rasa.answers["hola"]
    monkeypatch.setattr(rasa_client, "healthy", lambda: True)
    with app.app_context():
        assert periodic.revive_failed(utcnow()) == 1
    db.expire_all()
    assert db.get(Message, message.id).status == "received"
    jobs.process_inbound(message.id)
    db.expire_all()
    stored = db.get(Message, message.id)
    assert stored.status == "processed" and stored.error_code is None
    assert len(twilio.created) == 1
    # The escalation only said the bot could not answer: it leaves the agents' queue.
    assert not stored.conversation.needs_agent


def test_agent_held_conversation_gets_no_bot_reply(db, inbound, rasa, twilio):
    message = inbound("hola")
    db.get(Conversation, message.conversation_id).state = "agent"
    db.commit()
    jobs.process_inbound(message.id)
    assert rasa.calls == [] and twilio.created == []
    db.expire_all()
    assert db.get(Message, message.id).status == "for_agent"


def test_unknown_template_fails_that_reply_and_flags_agents(db, inbound, rasa, twilio):
    rasa.answers["hola"] = [
        {"custom": {"template": "no.such.key"}},
        {"custom": {"template": "greet"}},
    ]
    message = inbound("hola")
    jobs.process_inbound(message.id)
    rows = replies(db, message.id)
    assert [r.status for r in rows] == ["failed", "queued"]
    assert rows[0].conversation.agent_reason == "render_error"


def test_sweep_requeues_only_orphans(app, db, inbound, rasa, twilio):
    from redis import Redis
    from rq import Queue

    from bot.tasks import queues

    app.config["SWEEP_MIN_AGE"] = 0
    orphan = inbound("hola")
    owned = inbound("otra", "SM-owned")
    queues_conn = Redis.from_url(app.config["REDIS_URL"])
    queues_conn.flushdb()  # Redis restarted empty: both jobs are gone
    with app.app_context():
        queues.enqueue("process_inbound", owned.id)
        assert periodic.sweep() == 1
        assert periodic.sweep() == 0  # now it has a live job too
    queued = Queue(queues.INBOUND, connection=queues_conn).jobs
    assert sorted(job.args[0] for job in queued) == sorted([orphan.id, owned.id])


def test_an_unexpected_error_on_the_last_attempt_hands_to_agents(
    db, inbound, rasa, twilio, monkeypatch
):
    def broken(*args, **kwargs):
        raise TypeError("something nobody expected")

    monkeypatch.setattr(turn, "record_replies", broken)
    message = inbound("hola")
    monkeypatch.setattr(jobs, "final_attempt", lambda: False)
    with pytest.raises(TypeError):
        jobs.process_inbound(message.id)
    monkeypatch.setattr(jobs, "final_attempt", lambda: True)
    jobs.process_inbound(message.id)
    db.expire_all()
    stored = db.get(Message, message.id)
    assert stored.status == "failed" and stored.conversation.agent_reason == "processing_error"


def test_sweep_gives_up_on_a_message_that_keeps_failing(app, db, inbound, travel):
    app.config["SWEEP_MIN_AGE"] = 0
    message = inbound("hola")
    message.attempts = periodic.MAX_ATTEMPTS
    message.first_attempt_at = utcnow()
    db.commit()
    Redis.from_url(app.config["REDIS_URL"]).flushdb()  # its job is gone (killed the worker)
    with app.app_context():
        assert periodic.sweep() == 1  # tried often, but not for long: once more
    Redis.from_url(app.config["REDIS_URL"]).flushdb()
    travel(minutes=31)
    with app.app_context():
        assert periodic.sweep() == 0
    db.expire_all()
    assert db.get(Message, message.id).status == "failed"


def test_the_reply_follows_the_language_the_debtor_writes_in(db, inbound, rasa, twilio):
    rasa.answers["hi there"] = [{"custom": {"template": "greet"}}]
    rasa.answers["hola de nuevo"] = [{"custom": {"template": "greet"}}]
    english = inbound("hi there", "SM-en")
    jobs.process_inbound(english.id)
    assert twilio.created[-1]["body"].startswith("Hi!")
    assert rasa.calls[-1][2]["locale"] == "en"
    ok = inbound("4821", "SM-digits")  # says nothing about the language: stays English
    jobs.process_inbound(ok.id)
    assert rasa.calls[-1][2]["locale"] == "en"
    spanish = inbound("hola de nuevo", "SM-es")
    jobs.process_inbound(spanish.id)
    assert twilio.created[-1]["body"].startswith("¡Hola!")
    db.expire_all()
    conversation = db.get(Conversation, spanish.conversation_id)
    assert conversation.locale is None  # back to the locale on file (es-CO)


def test_a_numbered_reply_picks_the_offered_choice(db, inbound, rasa, twilio):
    buttons = [
        {"title_template": "button.balance", "payload": "/ask_balance"},
        {"title_template": "button.agent", "payload": "/request_agent"},
    ]
    rasa.answers["que?"] = [{"custom": {"template": "fallback", "buttons": buttons}}]
    first = inbound("que?", "SM-q")
    jobs.process_inbound(first.id)
    assert twilio.created[-1]["body"].endswith("\n\n1. Ver mi saldo\n2. Hablar con una persona")
    for body, expected in (("2", "/request_agent"), ("7", "7"), ("2", "2")):
        message = inbound(body, f"SM-{len(rasa.calls)}")
        jobs.process_inbound(message.id)
        assert rasa.calls[-1][1] == expected


def _agent(db):
    from bot import users

    user, _ = users.create_user(db, "ana@example.com", "correct horse battery", "agent")
    db.commit()
    return user


def test_a_claim_during_the_rasa_call_silences_the_bot(app, db, inbound, rasa, twilio):
    from bot.conversations import handover

    agent = _agent(db)
    message = inbound("hola")
    db.commit()

    def answer_while_an_agent_claims(sender_id, text, metadata):
        with app.app_context():
            from bot.db import session

            s = session()
            assert handover.claim(s, int(sender_id), agent)
            s.commit()
        return [{"custom": {"template": "greet"}}]

    rasa_client.send = answer_while_an_agent_claims
    jobs.process_inbound(message.id)
    db.expire_all()
    assert twilio.created == []
    assert db.get(Message, message.id).status == "for_agent"
    [reply] = db.execute(select(Message).where(Message.direction == "out")).scalars()
    assert reply.status == "suppressed"


def test_sync_bot_follows_who_holds_the_conversation(app, db, inbound, monkeypatch):
    from bot.conversations import handover

    agent = _agent(db)
    message = inbound("hola")
    conversation_id = message.conversation_id
    db.commit()
    calls = []

    def pause(sender_id):
        calls.append("pause")
        # The agent hands back while the pause is on its way to Rasa.
        with app.app_context():
            from bot.db import session

            s = session()
            conv = s.get(Conversation, conversation_id)
            handover.hand_back(s, conv, agent)
            s.commit()

    monkeypatch.setattr(rasa_client, "pause", pause)
    monkeypatch.setattr(rasa_client, "resume", lambda sender_id: calls.append("resume"))
    assert handover.claim(db, conversation_id, agent)
    db.commit()
    with app.app_context():
        from bot.tasks.queues import MAINTENANCE, queue

        [claimed] = queue(MAINTENANCE).jobs  # the claim asked for a sync once committed
        queue(MAINTENANCE).empty()
        claimed.func(*claimed.args)
        # The hand-back during the call asked for another sync (and the job saw the change).
        again = queue(MAINTENANCE).jobs
        assert again and {job.args for job in again} == {(conversation_id,)}
        for job in again:
            job.func(*job.args)
    db.expire_all()
    assert calls == ["pause", "resume"]
    assert db.get(Conversation, conversation_id).bot_paused is False


# -- messages the bot starts (issue 6: a payment's thank-you, a fresh link) -------------------


@pytest.fixture
def thanks(app, db, conversation):
    from bot.clock import utcnow

    jobs.set_job_app(app)
    conversation.last_inbound_at = utcnow()  # inside WhatsApp's window: free text
    row = queue_outbound(
        db,
        conversation,
        "payment.thanks",
        {
            "amount": {"amount": "50000.00", "currency": "COP"},
            "remaining": {"amount": "100000.00", "currency": "COP"},
        },
    )
    db.commit()
    yield row
    jobs.set_job_app(None)


def test_outbound_message_is_delivered_once(db, thanks, twilio):
    jobs.deliver_outbound(thanks.id)
    jobs.deliver_outbound(thanks.id)  # a duplicate job
    [sent] = twilio.created
    assert sent["to"] == "whatsapp:+573001234567" and "$50.000" in sent["body"]
    db.expire_all()
    assert db.get(Message, thanks.id).status == "queued"


def test_outbound_twilio_down_retries_then_hands_to_agents(app, db, thanks, twilio, travel):
    twilio.failures.append(TwilioRestException(429, "uri", "busy"))
    with pytest.raises(ProviderUnavailable):
        jobs.deliver_outbound(thanks.id)
    db.expire_all()
    assert db.get(Message, thanks.id).status == "pending"
    travel(minutes=31)
    twilio.failures.append(TwilioRestException(429, "uri", "busy"))
    jobs.deliver_outbound(thanks.id)
    db.expire_all()
    row = db.get(Message, thanks.id)
    assert row.status == "failed" and row.error_code == "unsent" and row.conversation.needs_agent
    assert twilio.created == []
    # Twilio answers again: the sweep sends it after all, once.
    with app.app_context():
        assert periodic.revive_failed(utcnow()) == 1
    jobs.deliver_outbound(thanks.id)
    db.expire_all()
    assert db.get(Message, thanks.id).status == "queued" and len(twilio.created) == 1


def test_sweep_requeues_bot_started_messages_left_without_a_job(app, db, thanks, conversation):
    from redis import Redis
    from rq import Queue

    from bot.tasks import queues

    app.config["SWEEP_MIN_AGE"] = 0
    owned = queue_outbound(db, conversation, "payment.thanks_paid", thanks.variables)
    db.commit()
    Redis.from_url(app.config["REDIS_URL"]).flushdb()  # Redis restarted empty
    with app.app_context():
        queues.enqueue("deliver_outbound", owned.id)
        assert periodic.sweep() == 1  # the thank-you whose job was lost
        assert periodic.sweep() == 0  # both have a live job now
    queued = Queue(queues.OUTBOUND, connection=Redis.from_url(app.config["REDIS_URL"])).jobs
    assert sorted(job.args[0] for job in queued) == sorted([thanks.id, owned.id])


def test_a_turn_is_timed_from_the_message_stored_to_the_replies_sent(db, inbound, rasa, twilio):
    from prometheus_client import REGISTRY

    def count(name):
        return REGISTRY.get_sample_value(name) or 0

    turns, asked = (
        count("bot_turn_duration_seconds_count"),
        count("bot_rasa_request_duration_seconds_count"),
    )
    message = inbound("hola")
    jobs.process_inbound(message.id)
    jobs.process_inbound(message.id)  # already answered: not a second turn
    assert count("bot_turn_duration_seconds_count") == turns + 1
    assert count("bot_rasa_request_duration_seconds_count") == asked + 1


def test_a_voice_note_gets_a_kind_answer_without_rasa(db, inbound, rasa, twilio):
    form = {
        "MessageSid": "SM-voice",
        "From": "whatsapp:+573001234567",
        "Body": "",
        "NumMedia": "1",
        "MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
        "MediaContentType0": "audio/ogg",
    }
    message, _ = store_inbound(db, form, 4096)
    jobs.process_inbound(message.id)
    assert rasa.calls == []
    [reply] = replies(db, message.id)
    assert reply.template_key == "media.voice" and reply.body.startswith("Recibí tu nota de voz")
    assert reply.body.endswith("\n\n1. Hablar con una persona")


def test_a_receipt_photo_is_left_to_its_own_job(app, db, inbound, rasa, twilio):
    form = {
        "MessageSid": "SM-photo",
        "From": "whatsapp:+573001234567",
        "Body": "ya pagué, aquí está",
        "NumMedia": "1",
        "MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM2/Media/ME2",
        "MediaContentType0": "image/jpeg",
    }
    message, _ = store_inbound(db, form, 4096)
    db.commit()
    jobs.process_inbound(message.id)
    assert rasa.calls == [] and replies(db, message.id) == []
    assert db.get(Message, message.id).status == "processed"


def test_a_short_yes_takes_the_choice_the_bot_offered(db, inbound, rasa, twilio):
    buttons = [
        {
            "title_template": "button.payment_link",
            "payload": "/request_payment_link",
            "on": "affirm",
        },
        {"title_template": "button.agent", "payload": "/request_agent"},
    ]
    rasa.answers["descuento?"] = [{"custom": {"template": "discount.none", "buttons": buttons}}]
    jobs.process_inbound(inbound("descuento?", "SM-d").id)
    jobs.process_inbound(inbound("dale, mándamelo", "SM-y").id)
    assert rasa.calls[-1][1] == "/request_payment_link"
    jobs.process_inbound(inbound("no sé", "SM-n").id)
    assert rasa.calls[-1][1] == "no sé"
