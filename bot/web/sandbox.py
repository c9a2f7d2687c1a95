"""Sandbox mode (no Twilio credentials): a Twilio-compatible Messages API that stores what
the real twilio client sends, and /simulator, where a person chats as a demo debtor through
the same signed webhook Twilio would call."""

import csv
import ipaddress
import secrets
from pathlib import Path

import requests
from flask import Blueprint, abort, current_app, jsonify, render_template, request
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from bot import channels, outbox, phones
from bot.clock import utcnow
from bot.db import session
from bot.models import Conversation, Message, SandboxMessage
from bot.outbound.sandbox import (
    MESSAGES_PATH,
    message_page,
    message_resource,
    new_sid,
    twilio_error,
)

api = Blueprint("sandbox_api", __name__, url_prefix="/sandbox/twilio")
simulator = Blueprint("simulator", __name__, url_prefix="/simulator")
DEMO_CSV = Path(__file__).resolve().parent.parent / "demo" / "debtors.csv"


def _authorised(account_sid):
    auth = request.authorization
    cfg = current_app.config
    return (
        auth is not None
        and account_sid == cfg["TWILIO_ACCOUNT_SID"]
        and secrets.compare_digest(auth.username or "", cfg["TWILIO_ACCOUNT_SID"])
        and secrets.compare_digest(auth.password or "", cfg["TWILIO_AUTH_TOKEN"])
    )


def _local_sandbox_only():
    """Sandbox endpoints exist only in sandbox mode and answer only this machine: the
    simulator can post as any number, so it must never face the internet."""
    if not current_app.config["SANDBOX"]:
        abort(404)
    if not ipaddress.ip_address(request.remote_addr or "0.0.0.0").is_loopback:
        abort(403)


api.before_request(_local_sandbox_only)
simulator.before_request(_local_sandbox_only)


@api.post(MESSAGES_PATH)
def create_message(account_sid):
    if not _authorised(account_sid):
        return twilio_error(401, 20003, "Authentication Error - invalid username")
    to, from_ = request.form.get("To"), request.form.get("From")
    if not to or not from_:
        return twilio_error(400, 21604, "A 'To' and 'From' phone number is required.")
    row = SandboxMessage(
        sid=new_sid(),
        to=to,
        from_=from_,
        body=request.form.get("Body") or _template_text(request.form),
        status_callback=request.form.get("StatusCallback"),
    )
    s = session()
    s.add(row)
    s.flush()
    if row.status_callback:
        outbox.later(s, "sandbox_callbacks", row.id)
    s.commit()
    resource = message_resource(account_sid, row.sid, to, from_, row.body, "queued", row.created_at)
    return jsonify(resource), 201


def _template_text(form):
    """What the sandbox shows for an approved-template send (Twilio fills the text itself)."""
    if not form.get("ContentSid"):
        return None
    return f"[template {form['ContentSid']}] {form.get('ContentVariables') or '{}'}"


@api.get(MESSAGES_PATH)
def list_messages(account_sid):
    if not _authorised(account_sid):
        return twilio_error(401, 20003, "Authentication Error - invalid username")
    stmt = select(SandboxMessage).order_by(SandboxMessage.id.desc()).limit(50)
    if request.args.get("To"):
        stmt = stmt.where(SandboxMessage.to == request.args["To"])
    if request.args.get("From"):
        stmt = stmt.where(SandboxMessage.from_ == request.args["From"])
    rows = session().execute(stmt).scalars().all()
    resources = [
        message_resource(account_sid, r.sid, r.to, r.from_, r.body, "sent", r.created_at)
        for r in rows
    ]
    return jsonify(message_page(account_sid, resources))


def demo_debtors():
    """The demo debtors with their ID hint (demo data from the repo; never a real debtor's)."""
    with DEMO_CSV.open(encoding="utf-8") as fh:
        return [
            {
                "name": row["full_name"],
                "phone_e164": phones.normalise(row["phone"], row["country"]),
                "country": row["country"],
                "locale": row["locale"],
                "id_last4": row["id_last4"],
            }
            for row in csv.DictReader(fh)
        ]


@simulator.get("")
def page():
    # The simulator's script is inline (it is a page for the machine itself only).
    csp = "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'"
    html = render_template("simulator.html", debtors=demo_debtors())
    return html, 200, {"Content-Security-Policy": csp + "; frame-ancestors 'none'"}


def _address():
    data = request.get_json(silent=True) or request.args
    channel = data.get("channel", "whatsapp")
    if channel not in ("whatsapp", "sms"):
        abort(400, "channel must be whatsapp or sms")
    try:
        phone = phones.normalise(data.get("phone", ""))
    except phones.PhoneError:
        abort(400, "phone must be an E.164 number")
    return channel, phone, data


@simulator.post("/send")
def send():
    """Post a correctly signed Twilio webhook to this app, as Twilio would."""
    channel, phone, data = _address()
    form = {
        "MessageSid": new_sid(),
        "AccountSid": current_app.config["TWILIO_ACCOUNT_SID"],
        "From": channels.address(channel, phone),
        "To": current_app.config[
            "TWILIO_WHATSAPP_FROM" if channel == "whatsapp" else "TWILIO_SMS_FROM"
        ],
        "Body": str(data.get("body", ""))[:1600],
        "NumMedia": "0",
    }
    if data.get("button_payload"):
        form["ButtonPayload"] = str(data["button_payload"])[:256]
    url = current_app.config["PUBLIC_BASE_URL"] + "/webhooks/twilio/messages"
    signature = RequestValidator(current_app.config["TWILIO_AUTH_TOKEN"]).compute_signature(
        url, form
    )
    response = requests.post(url, data=form, headers={"X-Twilio-Signature": signature}, timeout=10)
    return jsonify({"status": response.status_code, "sid": form["MessageSid"]}), (
        200 if response.ok else 502
    )


@simulator.get("/messages")
def messages():
    """The chat so far: what the debtor sent and what reached the sandbox 'Twilio'."""
    channel, phone, _ = _address()
    address = channels.address(channel, phone)
    s = session()
    inbound = s.execute(
        select(Message)
        .join(Message.conversation)
        .where(Conversation.channel == channel, Conversation.address == phone)
        .where(Message.direction == "in")
        .order_by(Message.id)
    ).scalars()
    outbound = s.execute(
        select(SandboxMessage).where(SandboxMessage.to == address).order_by(SandboxMessage.id)
    ).scalars()
    items = [
        {"from": "debtor", "body": m.body, "at": m.created_at.isoformat(), "status": m.status}
        for m in inbound
    ] + [{"from": "bot", "body": m.body, "at": m.created_at.isoformat()} for m in outbound]
    items.sort(key=lambda item: item["at"])
    return jsonify({"messages": items, "now": utcnow().isoformat() + "+00:00"})
