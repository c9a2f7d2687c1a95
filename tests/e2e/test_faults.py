"""Faults injected into the real stack during live conversations: Redis restarted empty, Rasa
stopped for a minute, a burst of new debtors. Every acknowledged message is answered, and no
reply reaches Twilio twice."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.e2e

LIVE = [f"+5730250{i:05d}" for i in range(20)]  # conversations going on through every fault
BURST = [f"+5730251{i:05d}" for i in range(200)]


def hold(seconds):
    """Keep a fault in place this long (the fault's length, not a wait for a condition)."""
    threading.Event().wait(seconds)


def say(stack, phones, text):
    """Each number writes text; every webhook must be acknowledged at once."""
    for phone in phones:
        response = stack.post(stack.inbound_form(phone, text))
        assert response.status_code == 200, response.text


def inbound_by_status(stack, prefix):
    rows = stack.query(
        "SELECT m.status, count(*) FROM messages m JOIN conversations c "
        "ON c.id = m.conversation_id WHERE m.direction = 'in' AND c.address LIKE :prefix "
        "GROUP BY m.status",
        prefix=prefix + "%",
    )
    return dict(rows)


def assert_nothing_lost_or_doubled(stack, phones, per_phone):
    prefix = phones[0][:9]
    assert inbound_by_status(stack, prefix) == {"processed": len(phones) * per_phone}
    sent = dict(
        stack.query(
            "SELECT c.address, count(*) FROM messages m JOIN conversations c "
            "ON c.id = m.conversation_id WHERE m.direction = 'out' "
            "AND m.provider_sid IS NOT NULL AND c.address LIKE :prefix GROUP BY c.address",
            prefix=prefix + "%",
        )
    )
    for phone in phones:
        received = stack.twilio.to(f"whatsapp:{phone}")
        assert received, f"{phone} got no reply"
        # Twilio took exactly the replies the bot recorded as sent: none twice.
        assert len(received) == sent[phone], phone


def workers_alive(stack):
    return [name for name, proc in stack.procs.items() if name.startswith("worker")] and all(
        proc.poll() is None for name, proc in stack.procs.items() if name.startswith("worker")
    )


def test_redis_restart_rasa_outage_and_a_burst_lose_and_double_nothing(stack):
    say(stack, LIVE, "hola")
    stack.settled(timeout=120)

    # Redis restarted empty for 5 s while messages are in flight and more arrive.
    say(stack, LIVE, "cuanto debo")
    stack.stop_process("redis")
    say(stack, LIVE[:10], "hola de nuevo")  # acknowledged though nothing can be enqueued
    hold(5)
    stack.start_redis()
    stack.settled(timeout=180)
    assert workers_alive(stack), "a worker exited when Redis went away"

    # Rasa down for 60 s: the messages wait, none goes to the agents as failed.
    stack.stop_process("rasa")
    say(stack, LIVE, "quiero pagar")
    hold(60)
    stack.start_rasa()
    stack.settled(timeout=180)

    # A burst of new debtors writing at once, while the live conversations go on.
    latencies = []

    def post(phone):
        started = time.perf_counter()
        response = stack.post(stack.inbound_form(phone, "hola"))
        latencies.append(time.perf_counter() - started)
        return response.status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        codes = list(pool.map(post, BURST))
    say(stack, LIVE, "gracias")
    assert set(codes) == {200}
    assert max(latencies) < 10, f"an acknowledgement took {max(latencies):.1f} s"
    stack.settled(timeout=300)

    assert workers_alive(stack)
    # Four messages from every live conversation, and one more from half of them.
    assert inbound_by_status(stack, LIVE[0][:9]) == {"processed": len(LIVE) * 4 + 10}
    assert_nothing_lost_or_doubled(stack, BURST, 1)
    for phone in LIVE:
        received = stack.twilio.to(f"whatsapp:{phone}")
        sent = stack.query(
            "SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id "
            "WHERE m.direction = 'out' AND m.provider_sid IS NOT NULL AND c.address = :phone",
            phone=phone,
        )[0][0]
        assert received and len(received) == sent, phone
