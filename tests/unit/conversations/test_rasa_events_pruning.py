"""Rasa's past sessions pruned by age (bot/conversations/rasa_server.py)."""

import asyncio
import json

import pytest

from bot.conversations import rasa_server

DAY = 86400.0


def session(start, turns=2):
    events = [
        {"event": "action", "name": "action_session_start", "timestamp": start},
        {"event": "session_started", "timestamp": start},
        {"event": "slot", "name": "verified", "value": True, "timestamp": start},
        {"event": "action", "name": "action_listen", "timestamp": start},
    ]
    for i in range(turns):
        events.append(
            {
                "event": "user",
                "text": f"hola {i}",
                "timestamp": start + i + 1,
                "parse_data": {"intent": {"name": "greet"}, "entities": []},
            }
        )
    return events


def test_drops_only_whole_sessions_before_the_last_one_older_than_the_cutoff():
    now = 100 * DAY
    (
        old,
        older_current,
    ) = session(now - 60 * DAY), session(now - 40 * DAY)
    events = old + older_current
    kept = rasa_server.prune_events(events, now - 30 * DAY)
    # The last session that started before the cut-off is the current one: kept whole.
    assert kept == older_current


def test_drops_the_sessions_that_ended_before_the_cutoff():
    now = 100 * DAY
    old, mid, recent = session(now - 90 * DAY), session(now - 31 * DAY), session(now - DAY)
    kept = rasa_server.prune_events(old + mid + recent, now - 30 * DAY)
    assert kept == recent
    assert kept[0]["name"] == "action_session_start"


def test_keeps_a_past_session_that_ended_after_the_cutoff():
    now = 100 * DAY
    old, mid, recent = session(now - 90 * DAY), session(now - 31 * DAY), session(now - DAY)
    mid[-1]["timestamp"] = now - 29 * DAY  # its last turn is recent enough
    assert rasa_server.prune_events(old + mid + recent, now - 30 * DAY) == mid + recent


def test_a_single_old_session_is_the_current_one():
    now = 100 * DAY
    events = session(now - 90 * DAY)
    assert rasa_server.prune_events(events, now - 30 * DAY) == events


def test_nothing_to_drop():
    now = 100 * DAY
    events = session(now - DAY) + session(now)
    assert rasa_server.prune_events(events, now - 30 * DAY) == events
    assert rasa_server.prune_events([], now) == []


@pytest.fixture()
def store(monkeypatch, redis_server):
    pytest.importorskip("rasa")
    from rasa.shared.core.domain import Domain

    from bot.config import ROOT

    monkeypatch.setenv("RASA_EVENTS_MAX_AGE_DAYS", "30")
    cls = rasa_server.PruningRedisTrackerStore
    port = int(redis_server.rsplit(":", 1)[1].split("/")[0])
    domain = Domain.load(str(ROOT / "dialogue" / "domain.yml"))
    store = cls(domain=domain, host="127.0.0.1", port=port, record_exp=3600, key_prefix="prunetest")
    yield store
    store.red.delete(store.key_prefix + "debtor")


def test_the_store_saves_a_pruned_tracker(store):
    import time

    from rasa.shared.core.trackers import DialogueStateTracker

    now = time.time()
    events = session(now - 60 * DAY, turns=3) + session(now - DAY)
    tracker = DialogueStateTracker.from_dict("debtor", events, store.domain.slots)
    asyncio.run(store.save(tracker))
    saved = json.loads(store.red.get(store.key_prefix + "debtor"))["events"]
    assert [e["event"] for e in saved][:2] == ["action", "session_started"]
    assert len([e for e in saved if e["event"] == "user"]) == 2
    assert all(e["timestamp"] > now - 2 * DAY for e in saved)
    assert store.red.ttl(store.key_prefix + "debtor") > 0
    # The current session's slots (carried over by Rasa as SlotSet events) are intact.
    restored = asyncio.run(store.retrieve("debtor"))
    assert restored.get_slot("verified") is True
    assert len(restored.events) == len(saved)
