"""End to end: Rasa keeps its conversations in Redis (dialogue/endpoints.yml), so a Rasa restart
in the middle of a form loses nothing and replicas taking turns share one conversation."""

from pathlib import Path

import pytest
import requests

from bot.testing.stack import Stack

from .test_pipeline import db_rows, turn

pytestmark = pytest.mark.e2e

DEBTORS = Path(__file__).parent / "debtors_rasa.csv"
ELENA = "+573015550900"  # es-CO, COP 410000.00 due 2026-11-20, ID ends 7070
MATEO = "+573015550901"  # es-CO, COP 275000.00 due 2026-11-25, ID ends 7171
HANNAH = "+12025550970"  # en-US, USD 310.00 due 2026-11-18, ID ends 7272
LUCAS = "+573015550902"  # es-CO, COP 150000.00 due 2026-11-22, ID ends 7474


@pytest.fixture(scope="module")
def debtors(stack):
    """This file's own debtors (their own references and numbers: an import updates the
    account of a reference another test may have paid), so no other test shares their state."""
    stack._run("import-debts", str(DEBTORS))
    return stack


@pytest.fixture(scope="module")
def replicas(tmp_path_factory, stack_database):
    """A second stack with two Rasa replicas and one worker: the worker's requests alternate."""
    s = Stack(
        tmp_path_factory.mktemp("replicas"),
        workers=1,
        rasa_replicas=2,
        database_url=stack_database(),
    )
    try:
        s.start()
        s._run("import-debts", str(DEBTORS))
    except Exception:
        s.stop()
        raise
    yield s
    s.stop()


def conversation_id(stack, phone):
    [(found,)] = db_rows(stack, "SELECT id FROM conversations WHERE address = :a", a=phone)
    return found


def tracker(stack, replica, conversation):
    response = requests.get(
        f"{stack.rasa_url(replica)}/conversations/{conversation}/tracker",
        params={"token": stack.env["RASA_TOKEN"]},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()


def test_a_rasa_restart_in_the_middle_of_verification_loses_nothing(debtors):
    stack = debtors
    [ask] = turn(stack, ELENA, "cuanto debo?", 1)  # remembered, answered once verified
    assert "4 dígitos" in ask
    conversation = conversation_id(stack, ELENA)
    assert stack.redis.exists(f"rasa:tracker:{conversation}")
    assert stack.redis.ttl(f"rasa:tracker:{conversation}") > 3600

    stack.stop_rasa(0)
    stack.start_rasa(0)

    state = tracker(stack, 0, conversation)
    assert state["active_loop"]["name"] == "verification_form"
    assert state["slots"]["pending_request"] == "ask_balance"
    verified, balance = turn(stack, ELENA, "7070", 2)
    assert verified == "¡Gracias, Elena! Ya confirmamos tu identidad. ✅"
    # The request from before the restart is answered, not the help menu.
    assert "$410.000" in balance and "20 de noviembre" in balance  # the year only when not this one
    [count] = turn(stack, ELENA, "quiero pagar en cuotas", 1)
    assert count.startswith("¿En cuántas cuotas")


def test_two_replicas_taking_turns_through_the_worker(replicas):
    stack = replicas
    [ask] = turn(stack, MATEO, "cuanto debo?", 1)
    assert "4 dígitos" in ask
    verified, balance = turn(stack, MATEO, "7171", 2)
    assert verified == "¡Gracias, Mateo! Ya confirmamos tu identidad. ✅"
    assert "$275.000" in balance and "25 de noviembre" in balance
    [count] = turn(stack, MATEO, "quiero pagar en cuotas", 1)
    assert count.startswith("¿En cuántas cuotas")
    # Both replicas read the one tracker in Redis.
    conversation = conversation_id(stack, MATEO)
    assert tracker(stack, 0, conversation)["events"] == tracker(stack, 1, conversation)["events"]


def test_two_replicas_alternating_on_one_conversation(replicas):
    """Each turn sent to the other replica than the last, on Rasa's REST channel."""
    stack = replicas
    [ask] = turn(stack, HANNAH, "how much do I owe?", 1, channel="sms")  # creates the row
    assert "last 4 digits" in ask
    conversation = conversation_id(stack, HANNAH)

    def say(replica, text):
        response = requests.post(
            f"{stack.rasa_url(replica)}/webhooks/rest/webhook",
            json={"sender": str(conversation), "message": text, "metadata": {"channel": "sms"}},
            timeout=30,
        )
        response.raise_for_status()
        return [(m["custom"]["template"], m["custom"]["vars"]) for m in response.json()]

    [(verified, name), (balance, amounts)] = say(1, "7272")
    assert (verified, name) == ("verify.ok", {"first_name": "Hannah"})
    assert balance == "balance.overdue" and amounts["reference"] == "E2E-RASA-3"
    assert amounts["due_date"] == "2026-11-18"
    assert say(0, "I want to pay in installments")[0][0] == "plan.ask_count"
    [(summary, plan)] = say(1, "3")
    assert summary == "plan.summary" and plan["count"] == 3


def test_a_replica_down_is_skipped_without_waiting_for_a_retry(replicas):
    """One replica stopped: the worker's request meant for it goes to the other at once (the
    connection was refused, so the turn cannot have run there); no message needs a retry."""
    stack = replicas
    stack.stop_rasa(1)
    [ask] = turn(stack, LUCAS, "cuanto debo?", 1)
    assert "4 dígitos" in ask
    verified, balance = turn(stack, LUCAS, "7474", 2)
    assert verified == "¡Gracias, Lucas! Ya confirmamos tu identidad. ✅"
    assert "$150.000" in balance
    # The worker's two sends took consecutive replicas in turn: one was meant for the stopped
    # one, and still each message was answered at its first attempt.
    attempts = db_rows(
        stack,
        "SELECT attempts FROM messages WHERE conversation_id = :c AND direction = 'in'",
        c=conversation_id(stack, LUCAS),
    )
    assert [a for (a,) in attempts] == [1, 1]


def test_past_sessions_older_than_the_max_age_are_pruned_on_save(stack):
    """RASA_EVENTS_MAX_AGE_DAYS (default 30): a tracker that is saved drops the whole sessions
    that ended before the cut-off and keeps the current one, with its slots."""
    import json
    import time

    sender = "prune-e2e"
    now = time.time()

    def session(start, text):
        return [
            {"event": "action", "name": "action_session_start", "timestamp": start},
            {"event": "session_started", "timestamp": start},
            {"event": "slot", "name": "verified", "value": True, "timestamp": start},
            {"event": "action", "name": "action_listen", "timestamp": start},
            {"event": "user", "text": text, "timestamp": start + 1,
             "parse_data": {"intent": {"name": "greet", "confidence": 1.0}, "entities": []}},
        ]  # fmt: skip

    events = session(now - 60 * 86400, "old") + session(now - 60, "current")
    response = requests.post(
        f"{stack.rasa_url(0)}/conversations/{sender}/tracker/events",
        params={"token": stack.env["RASA_TOKEN"], "include_events": "ALL"},
        json=events,
        timeout=30,
    )
    response.raise_for_status()
    stored = json.loads(stack.redis.get(f"rasa:tracker:{sender}"))
    texts = [e.get("text") for e in stored["events"] if e["event"] == "user"]
    assert texts == ["current"]
    assert stored["events"][1]["event"] == "session_started"
    assert stack.redis.ttl(f"rasa:tracker:{sender}") > 0
    assert tracker(stack, 0, sender)["slots"]["verified"] is True
