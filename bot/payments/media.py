"""Files the debtor sends (Twilio's inbound media) fetched with the account's credentials, checked
for size and type, and files the bot keeps (receipt photos, PDFs) stored in the database.

Twilio posts MediaUrl<n> and MediaContentType<n> with the inbound message; the URL is on
api.twilio.com and needs the account's SID and auth token (HTTP basic) when media
authentication is on. TWILIO_API_BASE_URL, when set, stands in for api.twilio.com (a local
fake in tests, the sandbox). Any other host is refused: a URL from elsewhere is not Twilio's.
"""

import hashlib
from urllib.parse import urlsplit

import requests
from flask import current_app

from bot.models import StoredFile

TWILIO_API = "https://api.twilio.com"
CHUNK = 64 * 1024
# What a receipt may be, by its first bytes: the declared type is the sender's word only.
SIGNATURES = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "application/pdf": (b"%PDF-",),
    "image/webp": (b"RIFF",),
}


class MediaRefused(ValueError):
    """A file that will not be kept: wrong type, too large, or not from Twilio (the reason is a
    short code for the agent and the audit log)."""


class MediaUnavailable(RuntimeError):
    """Twilio could not be reached or answered an error: try again later."""


def sniff(data):
    """The content type the file's first bytes show, or None."""
    for content_type, prefixes in SIGNATURES.items():
        if any(data.startswith(p) for p in prefixes):
            if content_type == "image/webp" and data[8:12] != b"WEBP":
                continue
            return content_type
    return None


def _fetch_url(url):
    """The URL to ask for the media (api.twilio.com, or the base standing in for it)."""
    base = (current_app.config.get("TWILIO_API_BASE_URL") or "").rstrip("/")
    if base and url.startswith(base + "/"):
        return url
    parts = urlsplit(url)
    if parts.scheme != "https" or parts.netloc != urlsplit(TWILIO_API).netloc:
        raise MediaRefused("not_twilio_media")
    return (base or TWILIO_API) + url[len(TWILIO_API) :]


def fetch(url, declared_type=None, max_bytes=None):
    """(bytes, content type) of an inbound media URL; MediaRefused or MediaUnavailable."""
    config = current_app.config
    max_bytes = max_bytes or config["RECEIPT_MAX_BYTES"]
    declared = (declared_type or "").split(";")[0].strip().lower()
    if declared and declared not in SIGNATURES:
        raise MediaRefused("unsupported_type")
    target = _fetch_url(url)
    auth = (config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"])
    try:
        # requests drops the credentials when Twilio redirects to its storage on another host.
        with requests.get(
            target, auth=auth, stream=True, timeout=config["TWILIO_TIMEOUT"]
        ) as response:
            if response.status_code == 404:
                raise MediaRefused("media_not_found")
            if response.status_code != 200:
                raise MediaUnavailable(f"Twilio answered HTTP {response.status_code}")
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise MediaRefused("too_large")
            data = bytearray()
            for chunk in response.iter_content(CHUNK):
                data += chunk
                if len(data) > max_bytes:
                    raise MediaRefused("too_large")
    except requests.RequestException as exc:
        raise MediaUnavailable(f"Twilio not reachable: {type(exc).__name__}") from exc
    data = bytes(data)
    actual = sniff(data)
    if actual is None:
        raise MediaRefused("unsupported_type")
    return data, actual


def store(session, data, content_type):
    """Keep bytes in the database; return the StoredFile (flushed, so it has an id)."""
    row = StoredFile(
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        data=data,
    )
    session.add(row)
    session.flush()
    return row
