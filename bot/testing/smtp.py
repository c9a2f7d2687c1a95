"""A real SMTP server (aiosmtpd) on a free local port, for tests, benchmarks and the sandbox:
it keeps every message it accepts, parsed, and can refuse chosen recipients (550) or stop
answering (an outage)."""

import email
import email.policy
import socket
import threading
import time

from aiosmtpd.controller import Controller


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Handler:
    def __init__(self, catcher):
        self.catcher = catcher

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.catcher.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.catcher.lock:
            self.catcher.messages.append(parsed)
            self.catcher.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.catcher.received_at.append(time.monotonic())
        return "250 Message accepted for delivery"


class SmtpCatcher:
    """start() / stop(); messages: the accepted e-mails (email.message.EmailMessage)."""

    def __init__(self, port=None):
        self.port = port or _free_port()
        self.host = "127.0.0.1"
        self.messages, self.envelopes, self.received_at = [], [], []
        self.refuse = set()
        self.lock = threading.Lock()
        self.controller = None

    def start(self):
        self.controller = Controller(_Handler(self), hostname=self.host, port=self.port)
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def reset(self):
        with self.lock:
            self.messages.clear()
            self.envelopes.clear()
            self.received_at.clear()
        self.refuse.clear()

    def to(self, address):
        """The messages sent to address, oldest first."""
        with self.lock:
            return [m for m in self.messages if m["To"] == address]

    def config(self):
        """The app settings that send to this server."""
        return {
            "EMAIL_SMTP_HOST": self.host,
            "EMAIL_SMTP_PORT": self.port,
            "EMAIL_SMTP_TLS": "none",
        }


def text_and_html(message):
    """(text part, HTML part) of a multipart/alternative e-mail."""
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    return (
        text.get_content() if text is not None else None,
        html.get_content() if html is not None else None,
    )
