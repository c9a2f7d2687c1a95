"""WhatsApp approved templates: a key linked to its Twilio Content SID and which of its variables
fills each numbered slot; the keys that may go outside the 24-hour window and still lack one."""

import json
import re

from sqlalchemy import select

from bot import audit, inputs, users
from bot.models import TemplateKey
from bot.templates.admin import TemplateValidationError, get_key

CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")
# Texts the bot may have to send outside WhatsApp's 24-hour window, where only an approved
# template (a Twilio Content SID) reaches the debtor: proactive and agent-started messages.
OUTSIDE_WINDOW_PREFIXES = ("reminder.", "document.", "autodebit.")
OUTSIDE_WINDOW_KEYS = frozenset(
    {"payment.thanks", "payment.thanks_paid", "payment.link", "agent.follow_up"}
)


def needs_approved_template(key):
    return key in OUTSIDE_WINDOW_KEYS or key.startswith(OUTSIDE_WINDOW_PREFIXES)


def lacking_approved_template(session):
    """Keys sent outside the window that have no Content SID yet, sorted."""
    rows = session.execute(select(TemplateKey)).scalars()
    return sorted(r.key for r in rows if needs_approved_template(r.key) and not r.content_sid)


def parse_content_variables(spec, raw):
    """{"1": "first_name", ...} from JSON text, checked against the key's declared variables."""
    raw = inputs.clean_text(raw)
    if not raw:
        return None
    try:
        mapping = json.loads(raw)
    except ValueError as exc:
        raise TemplateValidationError([f"the variable mapping is not JSON: {exc}"]) from None
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and k.isdigit() and isinstance(v, str) for k, v in mapping.items()
    ):
        raise TemplateValidationError(
            ['the variable mapping must look like {"1": "first_name", "2": "amount"}']
        )
    unknown = sorted(set(mapping.values()) - set(spec.variables or {}))
    if unknown:
        raise TemplateValidationError(
            [f"{{{name}}} is not a variable of {spec.key}" for name in unknown]
        )
    return mapping


def link_content_sid(session, key, sid, mapping_text, user):
    """Link (or, with no SID, unlink) a key to its approved WhatsApp template; audited."""
    spec = get_key(session, key)
    sid = (sid or "").strip()
    if sid and not CONTENT_SID.match(sid):
        raise TemplateValidationError(["a Content SID is HX followed by 32 hexadecimal digits"])
    mapping = parse_content_variables(spec, mapping_text) if sid else None
    before = {"content_sid": spec.content_sid, "content_variables": spec.content_variables}
    spec.content_sid, spec.content_variables = sid or None, mapping
    audit.record(
        session,
        users.actor(user) if hasattr(user, "role") else str(user),
        "template.content_sid",
        spec,
        {"before": before, "after": {"content_sid": sid or None, "content_variables": mapping}},
    )
    return spec
