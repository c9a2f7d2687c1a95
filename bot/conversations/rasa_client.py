"""Rasa's REST channel: send one debtor message, get the bot's template messages back."""

import requests
from flask import current_app


class RasaUnavailable(RuntimeError):
    """Rasa could not be reached or answered with an error; the job retries."""


_session = requests.Session()


def send(sender_id, text, metadata):
    url = current_app.config["RASA_URL"].rstrip("/") + "/webhooks/rest/webhook"
    try:
        response = _session.post(
            url,
            json={"sender": str(sender_id), "message": text, "metadata": metadata},
            timeout=current_app.config["RASA_TIMEOUT"],
        )
    except requests.RequestException as exc:
        raise RasaUnavailable(f"Rasa not reachable: {type(exc).__name__}") from exc
    if response.status_code != 200:
        raise RasaUnavailable(f"Rasa answered HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError as exc:
        raise RasaUnavailable("Rasa answered with something that is not JSON") from exc


def healthy():
    """True when Rasa answers its status endpoint with a loaded model (the sweep asks this
    before trying again the messages given up while it was down)."""
    cfg = current_app.config
    try:
        response = _session.get(
            cfg["RASA_URL"].rstrip("/") + "/status",
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
    cfg = current_app.config
    url = f"{cfg['RASA_URL'].rstrip('/')}/conversations/{sender_id}/tracker"
    try:
        response = _session.get(
            url, params={"token": cfg["RASA_TOKEN"]}, timeout=cfg["RASA_TIMEOUT"]
        )
    except requests.RequestException as exc:
        raise RasaUnavailable(f"Rasa not reachable: {type(exc).__name__}") from exc
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
    cfg = current_app.config
    url = f"{cfg['RASA_URL'].rstrip('/')}/conversations/{sender_id}/tracker/events"
    try:
        response = _session.post(
            url,
            params={"token": cfg["RASA_TOKEN"], "include_events": "NONE"},
            json=events,
            timeout=cfg["RASA_TIMEOUT"],
        )
    except requests.RequestException as exc:
        raise RasaUnavailable(f"Rasa not reachable: {type(exc).__name__}") from exc
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
