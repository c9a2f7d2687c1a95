"""The official twilio client, optionally pointed at another host (sandbox or tests)."""

import re

from flask import current_app
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

_TWILIO_HOST = re.compile(r"^https://(?P<sub>[a-z0-9-]+)(\.[a-z0-9-]+)*\.twilio\.com")


class RebasedHttpClient(TwilioHttpClient):
    """Send the client's REST calls to base_url: api.twilio.com/... -> base/...,
    other products (content.twilio.com/...) -> base/content/...."""

    def __init__(self, base_url, **kwargs):
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        match = _TWILIO_HOST.match(url)
        if match:
            prefix = "" if match.group("sub") == "api" else "/" + match.group("sub")
            url = self.base_url + prefix + url[match.end() :]
        return super().request(method, url, *args, **kwargs)


def make_client(config):
    timeout = config["TWILIO_TIMEOUT"]
    if config.get("TWILIO_API_BASE_URL"):
        http_client = RebasedHttpClient(config["TWILIO_API_BASE_URL"], timeout=timeout)
    else:
        http_client = TwilioHttpClient(timeout=timeout)
    return Client(
        config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"], http_client=http_client
    )


def get_client():
    """One client per process: it keeps a pooled HTTP session."""
    ext = current_app.extensions
    if "twilio_client" not in ext:
        ext["twilio_client"] = make_client(current_app.config)
    return ext["twilio_client"]
