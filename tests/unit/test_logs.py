"""Log lines carry no personal data, in text or JSON."""

import json
import logging

import pytest

from bot import logs


def record(msg, *args, exc_info=None, **extra):
    rec = logging.LogRecord("bot.test", logging.WARNING, __file__, 1, msg, args, exc_info)
    rec.__dict__.update(extra)
    return rec


@pytest.mark.parametrize(
    "text, expected",
    [
        ("reply to whatsapp:+573001234567 failed", "reply to whatsapp:[phone] failed"),
        ("To +1 (850) 555-0100 refused", "To [phone] refused"),
        ("mail ana.maria+cobro@example.co bounced", "mail [email] bounced"),
        ("document 1020304050 rejected", "document [number] rejected"),
        # Ids, SIDs, dates and amounts stay readable.
        ("message 4821 SM0123456789abcdef", "message 4821 SM0123456789abcdef"),
        ("at 2026-11-24 15:00:00, 150000.00 COP", "at 2026-11-24 15:00:00, 150000.00 COP"),
    ],
)
def test_mask(text, expected):
    assert logs.mask(text) == expected


def test_json_lines_are_objects_with_masked_message_extras_and_traceback():
    try:
        raise ValueError("bad number +573001234567")
    except ValueError:
        import sys

        rec = record("send to %s failed", "+573001234567", exc_info=sys.exc_info(), job=17)
    entry = json.loads(logs.JsonFormatter().format(rec))
    assert entry["level"] == "WARNING" and entry["logger"] == "bot.test"
    assert entry["message"] == "send to [phone] failed"
    assert entry["job"] == 17
    assert "ValueError: bad number [phone]" in entry["exc"]
    assert "573001234567" not in json.dumps(entry)
    assert entry["ts"].endswith("+00:00")


def test_text_lines_are_masked_too():
    line = logs.formatter("text").format(record("from %s", "whatsapp:+573001234567"))
    assert line.endswith("WARNING bot.test: from whatsapp:[phone]")


def test_an_unknown_format_is_refused():
    with pytest.raises(logs.LogFormatError, match="LOG_FORMAT must be one of text, json"):
        logs.formatter("xml")


def test_log_format_json_makes_the_process_log_json(tmp_path):
    import os
    import subprocess
    import sys

    code = (
        "import logging; from bot import create_app; create_app(); "
        "logging.getLogger('bot.x').warning('to %s', 'whatsapp:+573001234567')"
    )
    env = {
        **os.environ,
        "APP_ENV": "test",
        "LOG_FORMAT": "json",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
    }
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    [line] = [json.loads(x) for x in done.stderr.splitlines() if x.startswith("{")]
    assert line["message"] == "to whatsapp:[phone]" and line["logger"] == "bot.x"
