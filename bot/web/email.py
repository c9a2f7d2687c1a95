"""E-mail's public endpoints: the unsubscribe page and RFC 8058 one-click POST, and the
signed webhooks for inbound mail and for bounces and complaints (README, "E-mail")."""

import hashlib
import hmac
import logging
from functools import wraps

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request

from bot import clock
from bot.conversations import email_inbound
from bot.conversations.inbound import BadInbound
from bot.db import session
from bot.outbound import email, email_events
from bot.templates import store as templates

log = logging.getLogger(__name__)
bp = Blueprint("email", __name__)
# A webhook signed longer ago than this is refused (a replayed request).
SIGNATURE_TOLERANCE = 300


def _texts(debtor):
    locale = debtor.locale if debtor is not None else current_app.config["DEFAULT_LOCALE"]
    done, _ = templates.render(session(), "email.unsubscribed", locale, {})
    return locale.split("-")[0], done


@bp.get("/email/unsubscribe/<token>")
def unsubscribe_page(token):
    """A page with one button: a link scanner that opens the URL unsubscribes nobody."""
    if email.read_unsubscribe_token(token) is None:
        return Response("This link is not valid.\n", 404, mimetype="text/plain")
    return render_template("email_unsubscribe.html", token=token, done=False, lang="es")


@bp.post("/email/unsubscribe/<token>")
def unsubscribe(token):
    """The one-click POST (body List-Unsubscribe=One-Click) or the page's button."""
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    s = session()
    debtor = email.unsubscribe(s, token, "one_click" if one_click else "link")
    if debtor is None:
        s.rollback()
        return Response("This link is not valid.\n", 404, mimetype="text/plain")
    s.commit()
    if one_click:
        return Response(status=204)
    lang, text = _texts(debtor)
    return render_template("email_unsubscribe.html", token=token, done=text, lang=lang)


def signature_for(secret, timestamp, body):
    """Hex HMAC-SHA256 of "<timestamp>.<raw body>" with the webhook secret."""
    message = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def email_signed(view):
    """403 unless X-Email-Signature is the HMAC of X-Email-Timestamp and the raw body, and the
    timestamp is within SIGNATURE_TOLERANCE seconds of now."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        stamp = request.headers.get("X-Email-Timestamp", "")
        given = request.headers.get("X-Email-Signature", "")
        secret = current_app.config["EMAIL_WEBHOOK_SECRET"]
        expected = signature_for(secret, stamp, request.get_data())
        try:
            fresh = abs(clock.epoch() - int(stamp)) <= SIGNATURE_TOLERANCE
        except ValueError:
            fresh = False
        if not (fresh and given and hmac.compare_digest(given, expected)):
            log.warning("rejected unsigned or badly signed request to %s", request.path)
            abort(403)
        return view(*args, **kwargs)

    return wrapper


@bp.post("/webhooks/email/inbound")
@email_signed
def inbound():
    """A debtor's e-mail: JSON ({message_id, from, subject, text, html, in_reply_to}) or the raw
    message (Content-Type message/rfc822). 400 for what is not an e-mail, 200 once stored
    (a duplicate too)."""
    s = session()
    try:
        if request.mimetype == "message/rfc822":
            mail = email_inbound.parse_mime(request.get_data())
        else:
            mail = email_inbound.parse_json(request.get_json(silent=True))
        message, created = email_inbound.store_email(
            s, mail, current_app.config["MAX_INBOUND_BODY"]
        )
    except BadInbound as exc:
        s.rollback()
        return Response(f"Bad request: {exc}\n", 400, mimetype="text/plain")
    return jsonify({"stored": created, "message": message.id if message else None})


@bp.post("/webhooks/email/events")
@email_signed
def events():
    """Bounces and complaints: {"events": [{id, type, email, bounce_type, detail}]}."""
    data = request.get_json(silent=True)
    items = data.get("events") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return Response('Bad request: expected {"events": [...]}\n', 400, mimetype="text/plain")
    s = session()
    try:
        report = email_events.apply(s, items)
    except email_events.BadEvent as exc:
        s.rollback()
        return Response(f"Bad request: {exc}\n", 400, mimetype="text/plain")
    s.commit()
    return jsonify(report)
