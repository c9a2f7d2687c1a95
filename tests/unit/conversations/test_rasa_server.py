import sys

import pytest
from absl import logging as absl_logging
from jsonschema import ValidationError, validators
from rasa.core.actions.action import RemoteAction

from bot.conversations import rasa_server

# Rasa brings in TensorFlow and with it absl, whose log handler keeps the stderr of its import
# (pytest's capture file) and closes it when alembic's fileConfig shuts every handler down under
# Flask's CLI runner (the databases fixture): later tests would fail on a closed file.
absl_logging.get_absl_handler().python_handler.stream = sys.__stderr__

RESULTS = [
    {},
    {"events": [], "responses": []},
    {
        "events": [
            {"event": "slot", "name": "verified", "value": True, "timestamp": None},
            {"event": "active_loop", "name": None},
            {"event": "followup", "name": "action_listen"},
        ],
        "responses": [{"text": None, "custom": {"template": "greet", "vars": {}}}],
    },
    {"events": "slot"},
    {"events": [{"name": "verified"}]},
    {"events": [{"event": "no_such_event"}]},
    {"events": [{"event": "slot", "timestamp": "yesterday"}]},
    {"responses": ["plain text"]},
    [],
]


def outcome(validate, result):
    try:
        return ("valid", validate(RemoteAction("action_x", None), result))
    except ValidationError as error:
        return ("invalid", error.message, list(error.absolute_path), error.validator)


@pytest.fixture
def original(monkeypatch):
    """Rasa's own check; the attribute is restored after the test."""
    check = RemoteAction._validate_action_result
    monkeypatch.setattr(RemoteAction, "_validate_action_result", check)
    return check


@pytest.mark.parametrize("result", RESULTS)
def test_the_cached_validator_decides_and_reports_as_rasa_does(original, result):
    expected = outcome(original, result)
    rasa_server.install_cached_action_result_validator()
    assert RemoteAction._validate_action_result is not original
    assert outcome(RemoteAction._validate_action_result, result) == expected


def test_invalid_answers_still_raise_with_rasa_s_hint(original):
    rasa_server.install_cached_action_result_validator()
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        RemoteAction("action_x", None)._validate_action_result({"events": "slot"})


def test_the_schema_is_checked_once_not_per_answer(original, monkeypatch):
    rasa_server.install_cached_action_result_validator()
    cls = validators.validator_for(RemoteAction.action_response_format_spec())
    checks = []
    monkeypatch.setattr(cls, "check_schema", classmethod(lambda c, s, **kw: checks.append(s)))
    for result in RESULTS[:3]:
        assert RemoteAction("action_x", None)._validate_action_result(result) is True
    assert checks == []
    original(RemoteAction("action_x", None), RESULTS[2])  # Rasa's own: once per answer
    assert len(checks) == 1


@pytest.mark.parametrize(
    "environ, host, port, db, password",
    [
        ({}, "localhost", "6379", "0", ""),
        ({"REDIS_URL": "redis://127.0.0.1:6390/2"}, "127.0.0.1", "6390", "2", ""),
        (
            {"REDIS_URL": "redis://127.0.0.1:6390/2", "RASA_REDIS_URL": "redis://:p%40ss@r1/3"},
            "r1",
            "6379",
            "3",
            "p@ss",
        ),
    ],
)
def test_rasa_s_redis_comes_from_rasa_redis_url_else_redis_url(environ, host, port, db, password):
    assert rasa_server.redis_environment(environ) == {
        "RASA_REDIS_HOST": host,
        "RASA_REDIS_PORT": port,
        "RASA_REDIS_DB": db,
        "RASA_REDIS_PASSWORD": password,
        "RASA_TRACKER_EXPIRY": "86400",
    }


def test_a_redis_url_rasa_cannot_use_stops_it_at_start():
    with pytest.raises(SystemExit, match="rediss://"):
        rasa_server.redis_environment({"RASA_REDIS_URL": "rediss://r1:6380/0"})


def test_settings_given_one_by_one_win_and_empty_ones_are_filled_in():
    environ = {
        "REDIS_URL": "redis://127.0.0.1:6390/2",
        "RASA_REDIS_HOST": "rasa-redis",
        "RASA_REDIS_PASSWORD": "",
        "RASA_TRACKER_EXPIRY": "",
    }
    rasa_server.fill_redis_environment(environ)
    assert environ == {
        "REDIS_URL": "redis://127.0.0.1:6390/2",
        "RASA_REDIS_HOST": "rasa-redis",
        "RASA_REDIS_PORT": "6390",
        "RASA_REDIS_DB": "2",
        "RASA_REDIS_PASSWORD": "",
        "RASA_TRACKER_EXPIRY": "86400",
    }
