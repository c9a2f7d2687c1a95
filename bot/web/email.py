"""E-mail's public endpoints: the unsubscribe page and RFC 8058 one-click POST, and the
signed webhooks for inbound mail and for bounces and complaints (README, "E-mail")."""

import hashlib
import hmac
import logging
from functools import wraps

from flask import Blueprint, Response, abort, current_app, render_template, request

from bot import clock
from bot.db import session
from bot.outbound import email
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
