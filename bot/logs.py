"""Logging set-up: a line of text per record (LOG_FORMAT=text, the default) or one JSON object
per line (LOG_FORMAT=json) for a log collector; in both, personal data is masked.

Log calls in the bot name debtors by id, never by number or name. The formatter masks what may
still slip into a message or a traceback from a library (a Twilio error quoting the number, a
validation error quoting an e-mail): phone numbers (E.164, also after `whatsapp:`), e-mail
addresses and long digit runs (document numbers, card numbers). Ids, SIDs (letters and digits)
and dates stay readable.
"""

import json
import logging
import re
from datetime import datetime, timezone

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_PATTERNS = (
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "[email]"),
    (re.compile(r"\+\d[\d ()-]{5,18}\d"), "[phone]"),
    (re.compile(r"(?<![\w.:/-])\d{7,}(?![\w.])"), "[number]"),
)
# Attributes of every LogRecord: anything else on a record came from `extra=`.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class LogFormatError(ValueError):
    pass


def mask(text):
    """text with phone numbers, e-mail addresses and long digit runs replaced."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class MaskingFormatter(logging.Formatter):
    def format(self, record):
        return mask(super().format(record))


class JsonFormatter(logging.Formatter):
    """{"ts", "level", "logger", "message", "process", ["exc"], extra fields...}, masked."""

    def format(self, record):
        entry = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": mask(record.getMessage()),
            "process": record.process,
        }
        if record.exc_info:
            entry["exc"] = mask(self.formatException(record.exc_info))
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, (int, float, bool)) else mask(str(value))
        return json.dumps(entry, ensure_ascii=False)


def formatter(kind):
    if kind not in FORMATS:
        raise LogFormatError(f"LOG_FORMAT must be one of {', '.join(FORMATS)}, not {kind!r}")
    return JsonFormatter() if kind == "json" else MaskingFormatter(TEXT_FORMAT)


def configure(level, kind="text"):
    """Give the root logger a handler in the chosen format, as logging.basicConfig did: only
    when the process has none yet (a test runner's or a server's own handlers are left as they
    are); a handler set here earlier gets the new format."""
    chosen = formatter(kind)
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "_bot_handler", False)]
    if not root.handlers:
        logging.basicConfig(level=level)
        ours = list(root.handlers)
    for handler in ours:
        handler._bot_handler = True
        handler.setFormatter(chosen)
