"""A local Twilio-compatible Messages API for tests and benchmarks.

It records what the real twilio client sends (TWILIO_API_BASE_URL points here), answers like
Twilio, posts signed status callbacks (sent, delivered), and can be told to fail or stall.
Outbound media (MediaUrl) are recorded and fetched as Twilio fetches them (status, type and size
kept on the message); inbound media a test adds with add_media() are served behind the account's
credentials, at api.twilio.com-shaped URLs the app rewrites to TWILIO_API_BASE_URL.
"""

import logging
import threading
import time
import uuid

import requests
from flask import Flask, jsonify, request
from twilio.request_validator import RequestValidator
from werkzeug.serving import make_server

from bot import clock
from bot.web.sandbox import MESSAGES_PATH, message_page, message_resource, twilio_error


class FakeTwilio:
    def __init__(self, account_sid, auth_token, callbacks=True):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.callbacks = callbacks
        self.messages = []  # every accepted create, in arrival order
        self.failures = []  # HTTP statuses to answer the next creates with
        self.delay_next = 0.0  # seconds to stall the next create after accepting it
        self.refuse = {}  # address -> (HTTP status, Twilio code): answer creates to it so
        self.fail_later = {}  # address -> Twilio code: accept, then call back "failed" with it
        self.media = {}  # (message sid, media sid) -> (bytes, content type): inbound media
        self.media_requests = []  # (path, authorised) of every media download
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.app = self._build_app()
        self.server = None

    # -- control -------------------------------------------------------------------------
    def start(self, port=0):
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.server = make_server("127.0.0.1", port, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()

    def reset(self):
        with self.lock:
            self.messages.clear()
            self.failures.clear()
            self.delay_next = 0.0
            self.refuse.clear()
            self.fail_later.clear()

    def to(self, address):
        with self.lock:
            return [m for m in self.messages if m["to"] == address]

    def wait_for(self, address, count, timeout=30.0):
        """Wait until at least count messages reached address; return them all."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                found = [m for m in self.messages if m["to"] == address]
                left = deadline - time.monotonic()
                if len(found) >= count or left <= 0:
                    return found
                self.changed.wait(left)

    # -- the API ---------------------------------------------------------------------------
    def _build_app(self):
        app = Flask("fake_twilio")

        @app.post(MESSAGES_PATH)
        def create(account_sid):
            if not self._authorised(account_sid):
                return twilio_error(401, 20003, "Authentication Error - invalid username")
            with self.lock:
                failure = self.failures.pop(0) if self.failures else None
                delay, self.delay_next = self.delay_next, 0.0
            if failure:
                return twilio_error(failure, 20500, "Service unavailable (injected)")
            form = request.form
            refused = self.refuse.get(form.get("To"))
            if refused:
                return twilio_error(refused[0], refused[1], "Refused (injected)")
            record = {
                "sid": "SM" + uuid.uuid4().hex,
                "to": form.get("To"),
                "from": form.get("From"),
                "body": form.get("Body"),
                "media_urls": form.getlist("MediaUrl"),
                "media_fetched": [],  # (status, content type, bytes) as Twilio fetched them
                "status_callback": form.get("StatusCallback"),
                "content_sid": form.get("ContentSid"),
                "content_variables": form.get("ContentVariables"),
                "received_at": time.monotonic(),
                "created_at": clock.utcnow(),
            }
            with self.changed:
                self.messages.append(record)
                self.changed.notify_all()
            if delay:
                time.sleep(delay)
            if record["media_urls"]:
                threading.Thread(target=self._fetch_media, args=(record,), daemon=True).start()
            if self.callbacks and record["status_callback"]:
                threading.Thread(target=self._callbacks, args=(record,), daemon=True).start()
            resource = message_resource(
                account_sid,
                record["sid"],
                record["to"],
                record["from"],
                record["body"],
                "queued",
                record["created_at"],
            )
            return jsonify(resource), 201

        @app.get(MESSAGES_PATH.replace(".json", "") + "/<message_sid>/Media/<media_sid>")
        def get_media(account_sid, message_sid, media_sid):
            authorised = self._authorised(account_sid)
            with self.lock:
                self.media_requests.append((request.path, authorised))
            if not authorised:
                return twilio_error(401, 20003, "Authentication Error - invalid username")
            found = self.media.get((message_sid, media_sid))
            if found is None:
                return twilio_error(404, 20404, "The requested resource was not found")
            data, content_type = found
            return data, 200, {"Content-Type": content_type}

        @app.get(MESSAGES_PATH)
        def list_messages(account_sid):
            if not self._authorised(account_sid):
                return twilio_error(401, 20003, "Authentication Error - invalid username")
            with self.lock:
                rows = [
                    m
                    for m in self.messages
                    if request.args.get("To") in (None, m["to"])
                    and request.args.get("From") in (None, m["from"])
                ]
            resources = [
                message_resource(
                    account_sid, m["sid"], m["to"], m["from"], m["body"], "sent", m["created_at"]
                )
                for m in reversed(rows)
            ]
            return jsonify(message_page(account_sid, resources))

        return app

    def add_media(self, data, content_type, message_sid=None):
        """Keep a file as Twilio keeps an inbound message's media; return its MediaUrl (on
        api.twilio.com, as Twilio posts it)."""
        message_sid = message_sid or "MM" + uuid.uuid4().hex
        media_sid = "ME" + uuid.uuid4().hex
        with self.lock:
            self.media[(message_sid, media_sid)] = (data, content_type)
        return (
            f"https://api.twilio.com/2010-04-01/Accounts/{self.account_sid}/Messages/"
            f"{message_sid}/Media/{media_sid}"
        )

    def _fetch_media(self, record):
        """Fetch each MediaUrl of an outbound message, as Twilio does before sending it."""
        for url in record["media_urls"]:
            try:
                response = requests.get(url, timeout=10)
                found = (
                    response.status_code,
                    response.headers.get("Content-Type"),
                    len(response.content),
                )
            except requests.RequestException as exc:
                found = (None, type(exc).__name__, 0)
            with self.changed:
                record["media_fetched"].append(found)
                self.changed.notify_all()

    def _authorised(self, account_sid):
        auth = request.authorization
        return (
            auth is not None
            and account_sid == self.account_sid
            and auth.username == self.account_sid
            and auth.password == self.auth_token
        )

    def _callbacks(self, record):
        validator = RequestValidator(self.auth_token)
        error = self.fail_later.get(record["to"])
        for status in ("sent", "failed") if error else ("sent", "delivered"):
            form = {"MessageSid": record["sid"], "MessageStatus": status, "To": record["to"]}
            if status == "failed":
                form["ErrorCode"] = error
            signature = validator.compute_signature(record["status_callback"], form)
            try:
                requests.post(
                    record["status_callback"],
                    data=form,
                    headers={"X-Twilio-Signature": signature},
                    timeout=5,
                )
            except requests.RequestException:
                pass
