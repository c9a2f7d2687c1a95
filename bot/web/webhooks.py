"""Twilio webhooks: inbound messages and delivery-status callbacks."""

import logging
from functools import wraps

from flask import Blueprint, Response, abort, current_app, request
from redis.exceptions import RedisError
from twilio.request_validator import RequestValidator

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


def twilio_signed(view):
    """403 unless X-Twilio-Signature matches PUBLIC_BASE_URL + path over the form params."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        signature = request.headers.get("X-Twilio-Signature", "")
        validator = RequestValidator(current_app.config["TWILIO_AUTH_TOKEN"])
        if not signature or not validator.validate(signed_url(), request.form, signature):
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
