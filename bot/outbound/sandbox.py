"""The Twilio Messages API as the sandbox (and the tests' fake Twilio) answer it: resources,
pages, errors, and the signed status callbacks Twilio posts after accepting a message."""

import uuid
from datetime import timezone
from email.header import decode_header, make_header
from email.utils import format_datetime

import requests
from flask import current_app, jsonify
from twilio.request_validator import RequestValidator

from bot.db import session
from bot.models import SandboxMessage

MESSAGES_PATH = "/2010-04-01/Accounts/<account_sid>/Messages.json"


def new_sid(prefix="SM"):
    return prefix + uuid.uuid4().hex


def rfc2822(moment):
    return format_datetime(moment.replace(tzinfo=timezone.utc))


def message_resource(account_sid, sid, to, from_, body, status, created_at):
    """A Message resource shaped as Twilio's REST API returns it."""
    stamp = rfc2822(created_at)
    return {
        "account_sid": account_sid,
        "api_version": "2010-04-01",
        "body": body,
        "date_created": stamp,
        "date_sent": stamp,
        "date_updated": stamp,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": from_,
        "messaging_service_sid": None,
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": status,
        "subresource_uris": {},
        "to": to,
        "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json",
    }


def message_page(account_sid, resources):
    return {
        "messages": resources,
        "first_page_uri": f"/2010-04-01/Accounts/{account_sid}/Messages.json?PageSize=50&Page=0",
        "next_page_uri": None,
        "previous_page_uri": None,
        "page": 0,
        "page_size": 50,
        "start": 0,
        "end": max(len(resources) - 1, 0),
        "uri": f"/2010-04-01/Accounts/{account_sid}/Messages.json?PageSize=50&Page=0",
    }


def twilio_error(status, code, message):
    body = {"code": code, "message": message, "more_info": "", "status": status}
    return jsonify(body), status


def post_status_callbacks(message_id):
    """Do what Twilio does after accepting a message: post signed 'sent', then 'delivered'."""
    row = session().get(SandboxMessage, message_id)
    if row is None or not row.status_callback:
        return
    validator = RequestValidator(current_app.config["TWILIO_AUTH_TOKEN"])
    for status in ("sent", "delivered"):
        form = {
            "MessageSid": row.sid,
            "MessageStatus": status,
            "AccountSid": current_app.config["TWILIO_ACCOUNT_SID"],
            "To": row.to,
            "From": row.from_,
        }
        signature = validator.compute_signature(row.status_callback, form)
        requests.post(
            row.status_callback, data=form, headers={"X-Twilio-Signature": signature}, timeout=10
        ).raise_for_status()


class SandboxMailer:
    """Sandbox mode without an SMTP host: e-mails are kept as sandbox messages (to the address,
    the subject above the text) for the simulator to show, in the sender's transaction."""

    def send(self, message):
        text = ""
        for part in message.walk():
            if part.get_content_type() == "text/plain":
                text = part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
                break
        subject = str(make_header(decode_header(str(message["Subject"] or ""))))
        session().add(
            SandboxMessage(
                sid=new_sid("EM"),
                to=str(message["To"])[:254],
                from_="email",
                body=f"{subject}\n\n{text}".strip(),
            )
        )

    def close(self):
        pass
