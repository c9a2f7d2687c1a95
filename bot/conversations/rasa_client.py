"""Rasa's REST channel: send one debtor message, get the bot's template messages back."""

import itertools

import requests
from flask import current_app
from urllib3.exceptions import ConnectTimeoutError


class RasaUnavailable(RuntimeError):
    """Rasa could not be reached or answered with an error; the job retries."""


_session = requests.Session()
_turn = itertools.count()


def urls():
    """The Rasa replicas: RASA_URL is one URL or a comma-separated list."""
    return [u.strip().rstrip("/") for u in current_app.config["RASA_URL"].split(",") if u.strip()]


def _never_sent(exc):
    """True when the request cannot have reached Rasa (connection refused or not made in
    time): another replica may take it without the turn running twice."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.ConnectTimeout) or isinstance(reason, ConnectTimeoutError)


def _request(method, path, **kwargs):
    """One request to the next replica, round robin: replicas share Rasa's tracker and lock
    stores (dialogue/endpoints.yml), so any of them can take any turn. A replica that cannot
    be connected to is skipped for the next; one that may have received the request is not
    (the job's retry asks answers_already_given first)."""
    replicas = urls()
    start = next(_turn)
    for attempt in range(len(replicas)):
        url = replicas[(start + attempt) % len(replicas)] + path
        try:
            return _session.request(
                method, url, timeout=current_app.config["RASA_TIMEOUT"], **kwargs
            )
        except requests.RequestException as exc:
            if attempt + 1 < len(replicas) and _never_sent(exc):
                continue
            raise RasaUnavailable(f"Rasa not reachable: {type(exc).__name__}") from exc


def send(sender_id, text, metadata):
    response = _request(
        "POST",
        "/webhooks/rest/webhook",
        json={"sender": str(sender_id), "message": text, "metadata": metadata},
    )
    if response.status_code != 200:
        raise RasaUnavailable(f"Rasa answered HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError as exc:
        raise RasaUnavailable("Rasa answered with something that is not JSON") from exc


def healthy():
    """True when a Rasa replica answers its status endpoint with a loaded model (the sweep asks
    this before trying again the messages given up while Rasa was down; with one replica of
    several still down, a retried turn that meets it fails again and is retried later)."""
    return any(_replica_healthy(url) for url in urls())


def _replica_healthy(url):
    cfg = current_app.config
    try:
        response = _session.get(
            url + "/status",
            params={"token": cfg["RASA_TOKEN"]},
            timeout=min(cfg["RASA_TIMEOUT"], 5),
        )
        return response.status_code == 200 and bool(response.json().get("model_file"))
    except (requests.RequestException, ValueError, AttributeError):
        return False


def answers_already_given(sender_id, message_id):
    """Rasa's answers to an inbound message it has already processed, or None if it has not.

    A retried job asks this before sending the text again, so that a turn Rasa completed but
    the worker did not record (timeout, crash) is not run twice (a verification attempt counted
    twice, say). The user event carries our message id in its metadata.
    """
    response = _request(
        "GET",
        f"/conversations/{sender_id}/tracker",
        params={"token": current_app.config["RASA_TOKEN"]},
    )
    if response.status_code != 200:
        raise RasaUnavailable(f"Rasa tracker answered HTTP {response.status_code}")
    answers, found = [], False
    for event in response.json().get("events") or []:
        if event.get("event") == "user":
            if found:
                break
            found = (event.get("metadata") or {}).get("message_id") == message_id
        elif found and event.get("event") == "bot":
            data = event.get("data") or {}
            answers.append({"text": event.get("text"), "custom": data.get("custom")})
    return answers if found else None


def to_template_messages(rasa_messages):
    """Turn Rasa's REST answers into template messages: {template, vars, buttons}.

    Responses carry a custom payload {"template": key, "vars": {...}}; plain text (which the
    domain should never produce) is passed through under the "raw" key so nothing is lost.
    """
    out = []
    for item in rasa_messages or []:
        custom = item.get("custom")
        if isinstance(custom, dict) and custom.get("template"):
            out.append(
                {
                    "template": custom["template"],
                    "vars": custom.get("vars") or {},
                    "buttons": custom.get("buttons") or item.get("buttons") or [],
                }
            )
        elif item.get("text"):
            out.append({"template": None, "raw": item["text"], "vars": {}, "buttons": []})
    return out


def _append_events(sender_id, events):
    response = _request(
        "POST",
        f"/conversations/{sender_id}/tracker/events",
        params={"token": current_app.config["RASA_TOKEN"], "include_events": "NONE"},
        json=events,
    )
    if response.status_code != 200:
        raise RasaUnavailable(f"Rasa tracker events answered HTTP {response.status_code}")


def pause(sender_id):
    """Pause the bot on this conversation (an agent holds it): Rasa predicts nothing."""
    _append_events(sender_id, [{"event": "pause"}])


def resume(sender_id):
    """Resume the bot with no form left half-way (the agent may have changed everything)."""
    _append_events(
        sender_id,
        [
            {"event": "resume"},
            {"event": "active_loop", "name": None},
            {"event": "slot", "name": "requested_slot", "value": None},
        ],
    )
