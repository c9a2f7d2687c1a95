"""Twilio webhooks: inbound messages and delivery-status callbacks."""

import hmac
import logging
from functools import wraps
from urllib.parse import urlparse

from flask import Blueprint, Response, abort, current_app, request
from redis.exceptions import RedisError
from twilio.request_validator import RequestValidator, add_port, remove_port

from bot import inputs
from bot.conversations.inbound import BadInbound, record_inbound
from bot.db import session
from bot.models import Message
from bot.outbound.status import apply_status

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks/twilio")
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def signed_url():
    """The URL Twilio signed: the public base plus the path and query it posted to."""
    query = request.query_string.decode()
    return current_app.config["PUBLIC_BASE_URL"] + request.path + (f"?{query}" if query else "")


def valid_signature(url, form, signature):
    """RequestValidator.validate for a form post, cheaper: Twilio signs the URL with or without
    its default port, and validate computes both HMACs every time; here the URL as configured
    is tried first and the other form only when it fails."""
    validator = RequestValidator(current_app.config["TWILIO_AUTH_TOKEN"])
    parsed = urlparse(url)
    candidates = [url] + [u for u in (remove_port(parsed), add_port(parsed)) if u != url]
    return any(
        hmac.compare_digest(validator.compute_signature(u, form).encode(), signature.encode())
        for u in candidates
    )


def twilio_signed(view):
    """403 unless X-Twilio-Signature matches PUBLIC_BASE_URL + path over the form params."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature or not valid_signature(signed_url(), request.form, signature):
            log.warning("rejected unsigned or badly signed request to %s", request.path)
            abort(403)
        return view(*args, **kwargs)

    return wrapper


@bp.post("/messages")
@twilio_signed
def inbound():
    s = session()
    try:
        # Stored and committed; its job is enqueued after the commit (or found by the sweep).
        record_inbound(s, request.form, current_app.config["MAX_INBOUND_BODY"])
    except BadInbound as exc:
        s.rollback()
        return Response(f"Bad request: {exc}\n", status=400, mimetype="text/plain")
    return Response(EMPTY_TWIML, mimetype="text/xml")


@bp.post("/status")
@twilio_signed
def status():
    form = request.form
    try:
        sid = inputs.text(
            form.get("MessageSid"), "MessageSid", inputs.length(Message.provider_sid), True
        )
        new_status = inputs.text(form.get("MessageStatus"), "MessageStatus", 32, True)
        error_code = inputs.text(
            form.get("ErrorCode"), "ErrorCode", inputs.length(Message.error_code)
        )
    except inputs.BadInput as exc:
        return Response(f"Bad request: {exc}\n", 400, mimetype="text/plain")
    try:
        known = apply_status(session(), sid, new_status, error_code)
    except RedisError as exc:  # an early callback could not be held; Twilio will not resend
        log.error("could not hold an early status callback: %s", type(exc).__name__)
        known = False
    return Response(status=204 if known else 202)
