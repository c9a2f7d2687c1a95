"""Editing the template store from the admin console: versions, validation, preview, files.

A save never changes a row: it adds a version (who, when, the body before and after, in the
audit trail), and the live text is the latest published version, which `templates.render`
reads on every message, so a change reaches the next message in every process.
"""

import difflib
import re
from datetime import timedelta

from babel import Locale, UnknownLocaleError
from babel.numbers import get_territory_currencies
from flask import current_app
from sqlalchemy import distinct, func, select

from bot import audit, clock, inputs, users
from bot.models import Debtor, MessageTemplate, TemplateKey
from bot.money import exponent
from bot.templates import optout, plural
from bot.templates import store as templates
from bot.templates.sms import sms_segments

# WhatsApp refuses template bodies longer than this (characters).
WHATSAPP_TEMPLATE_LIMIT = 1024

_BRACES = re.compile(r"\{([^{}]*)\}")
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_LOCALE_TAG = re.compile(r"^[a-z]{2,3}(-[A-Z]{2})?(@(" + "|".join(templates.REGISTERS[1:]) + "))?$")


class TemplateValidationError(ValueError):
    """A body or file that cannot be saved; problems lists every reason."""

    def __init__(self, problems):
        super().__init__("; ".join(problems))
        self.problems = list(problems)


class TemplateConflict(RuntimeError):
    """The live text changed since the editor opened it; saving would silently undo that."""

    def __init__(self, current):
        super().__init__(
            f"version {current.version} was published by {current.created_by} since you opened "
            "this text; review it and save again"
        )
        self.current = current


def check_body(body, declared, optional=(), key=None, locale=None):
    """Every problem of a body for a key declaring variables {name: type}; [] when it is fine.

    Plural blocks are checked against the locale's CLDR forms; a count (a number that needs a
    plural form, like attempts left) written outside one is refused. Given the key and locale,
    the compliance rules of the text are checked too."""
    if not (body or "").strip():
        return ["the text is empty"]
    problems, in_plural = plural.problems(body, declared, locale)
    if problems:
        return problems
    if key and locale and optout.is_us_facing(key, locale) and not optout.has_opt_out_line(body):
        problems.append(
            "US debtors read this text: it must say how to stop these messages, e.g. "
            '"Reply STOP to stop these messages." (Regulation F, 12 CFR 1006.6(e))'
        )
    body = plural.without_blocks(body)
    used = list(in_plural)
    for name in sorted(n for n, kind in declared.items() if kind == "count"):
        if f"{{{name}}}" in body:
            problems.append(
                f"{{{name}}} is a count: write it with its plural forms, like "
                f"{{{name}, plural, one {{# día}} other {{# días}}}}"
            )
    for match in _BRACES.finditer(body):
        name = match.group(1)
        if not _NAME.match(name):
            problems.append(
                f"{match.group(0)} is not a variable: use a declared name in lower case, "
                "like {first_name}"
            )
        elif name not in used:
            used.append(name)
    rest = _BRACES.sub("", body)
    if "{" in rest or "}" in rest:
        problems.append("unbalanced brace: every { needs a closing } around a variable name")
    for name in used:
        if name not in declared:
            allowed = ", ".join(sorted(declared)) or "none"
            problems.append(
                f"variable {{{name}}} is not declared for this key (declared: {allowed})"
            )
    for name in declared:
        if name not in optional and name not in used:
            problems.append(f"required variable {{{name}}} is missing")
    return problems


def check_locale(tag):
    """A locale tag like es, es-CO or es@usted (a register) that Babel knows; raises
    TemplateValidationError."""
    if not _LOCALE_TAG.match(tag or ""):
        raise TemplateValidationError(
            [f"locale {tag!r} is not a tag like es, es-CO or es@usted (registers: usted, vos)"]
        )
    try:
        Locale.parse(templates.split_tag(tag)[0].replace("-", "_"))
    except (ValueError, UnknownLocaleError) as exc:
        raise TemplateValidationError([f"locale {tag!r} is not a known locale"]) from exc
    return tag


def get_key(session, key):
    spec = session.get(TemplateKey, key)
    if spec is None:
        raise LookupError(f"no template key {key!r}")
    return spec


def live(session, key, locale):
    """The live version of exactly (key, locale), without fallback; None if there is none."""
    return session.execute(
        select(MessageTemplate)
        .where(MessageTemplate.key == key, MessageTemplate.locale == locale)
        .where(MessageTemplate.published.is_(True))
        .order_by(MessageTemplate.version.desc())
        .limit(1)
    ).scalar_one_or_none()


def fallback_for(session, key, locale):
    """The locale whose text debtors in locale read when it has none of its own, or None."""
    for candidate in templates.locale_chain(locale)[1:]:
        if live(session, key, candidate) is not None:
            return candidate
    return None


def versions(session, key, locale):
    """Every version of (key, locale), newest first."""
    return (
        session.execute(
            select(MessageTemplate)
            .where(MessageTemplate.key == key, MessageTemplate.locale == locale)
            .order_by(MessageTemplate.version.desc())
        )
        .scalars()
        .all()
    )


def locales(session):
    """Locales that have templates, plus the default one; sorted."""
    stored = session.execute(select(distinct(MessageTemplate.locale))).scalars().all()
    return sorted(set(stored) | {current_app.config["DEFAULT_LOCALE"], "es", "en"})


def catalogue(session, query=None):
    """[(TemplateKey, {locale: live row})] matching query in the key, description or a body."""
    keys = session.execute(select(TemplateKey).order_by(TemplateKey.key)).scalars().all()
    latest = (
        select(
            MessageTemplate.key,
            MessageTemplate.locale,
            func.max(MessageTemplate.version).label("version"),
        )
        .where(MessageTemplate.published.is_(True))
        .group_by(MessageTemplate.key, MessageTemplate.locale)
        .subquery()
    )
    rows = session.execute(
        select(MessageTemplate).join(
            latest,
            (MessageTemplate.key == latest.c.key)
            & (MessageTemplate.locale == latest.c.locale)
            & (MessageTemplate.version == latest.c.version),
        )
    ).scalars()
    bodies = {}
    for row in rows:
        bodies.setdefault(row.key, {})[row.locale] = row
    needle = (query or "").strip().casefold()
    result = []
    for spec in keys:
        live_rows = bodies.get(spec.key, {})
        haystack = " ".join(
            [spec.key, spec.description or ""] + [r.body for r in live_rows.values()]
        ).casefold()
        if needle and needle not in haystack:
            continue
        result.append((spec, live_rows))
    return result


def _next_version(session, key, locale):
    latest = session.execute(
        select(func.max(MessageTemplate.version)).where(
            MessageTemplate.key == key, MessageTemplate.locale == locale
        )
    ).scalar()
    return (latest or 0) + 1


def add_version(session, spec, locale, body, user, action, extra=None):
    current = live(session, spec.key, locale)
    row = MessageTemplate(
        key=spec.key,
        locale=locale,
        version=_next_version(session, spec.key, locale),
        body=body,
        published=True,
        source="admin",
        created_by=users.actor(user) if user is not None else "cli",
    )
    session.add(row)
    audit.record(
        session,
        row.created_by,
        action,
        row,
        {
            "key": spec.key,
            "locale": locale,
            "version": row.version,
            "before": current.body if current is not None else None,
            "after": body,
            **(extra or {}),
        },
    )
    return row


def normalise_body(body):
    # Browsers send CRLF from a textarea; the stored text uses plain newlines. Control
    # characters are dropped (PostgreSQL refuses a NUL in text).
    return inputs.clean_text((body or "").replace("\r\n", "\n"))


def save(session, key, locale, body, user, base_version=None):
    """Publish body as the new version of (key, locale); None when nothing changed.

    base_version is the live version the editor started from (0 for none): if another one was
    published since, TemplateConflict is raised. Raises TemplateValidationError naming each
    problem. Nothing is written on either error."""
    spec = get_key(session, key)
    check_locale(locale)
    body = normalise_body(body)
    problems = check_body(body, spec.variables or {}, spec.optional or [], key, locale)
    if problems:
        raise TemplateValidationError(problems)
    current = live(session, key, locale)
    if current is not None and current.body == body:
        return None
    if base_version is not None and (current.version if current else 0) != base_version:
        raise TemplateConflict(current)
    return add_version(session, spec, locale, body, user, "template.edited")


def restore(session, key, locale, version, user):
    """Publish an earlier version's body again, as a new version (history is never rewritten)."""
    spec = get_key(session, key)
    old = session.execute(
        select(MessageTemplate).where(
            MessageTemplate.key == key,
            MessageTemplate.locale == locale,
            MessageTemplate.version == version,
        )
    ).scalar_one_or_none()
    if old is None:
        raise LookupError(f"no version {version} of {key!r} ({locale})")
    # A version saved before the key's variables changed may no longer fit them.
    problems = check_body(old.body, spec.variables or {}, spec.optional or [], key, locale)
    if problems:
        raise TemplateValidationError(problems)
    current = live(session, key, locale)
    if current is not None and current.body == old.body:
        return None
    return add_version(
        session, spec, locale, old.body, user, "template.restored", {"restored_version": version}
    )


def changes(before, after):
    """What changed between two bodies, as difflib's word-level opcodes for display:
    [(tag, text)] with tag one of equal / delete / insert."""
    a, b = re.split(r"(\s+)", before or ""), re.split(r"(\s+)", after or "")
    out = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            out.append(("equal", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(("delete", "".join(a[i1:i2])))
        if j2 > j1:
            out.append(("insert", "".join(b[j1:j2])))
    return out


def history(session, key, locale):
    """Versions newest first, each with its changes from the version before it."""
    rows = versions(session, key, locale)
    items = []
    for index, row in enumerate(rows):
        previous = rows[index + 1].body if index + 1 < len(rows) else ""
        items.append({"row": row, "changes": changes(previous, row.body)})
    return items


_SAMPLE_TEXT = {
    "first_name": "Camila",
    "reference": "CO-1001",
}


def _sample_amount(currency):
    # A plausible debt in that currency, with exactly its number of decimals (CLP has none).
    if currency in ("COP", "CLP"):
        return {"COP": "150000.00", "CLP": "89990"}[currency]
    return "1250.50" if exponent(currency) else "1250"


def sample_variables(declared, locale_tag, today=None):
    """Sample values for a preview, in the currency of the locale's country."""
    today = today or clock.utcnow().date()
    territory = templates.babel_locale(locale_tag).territory
    currencies = get_territory_currencies(territory) if territory else []
    currency = currencies[0] if currencies else "USD"
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    samples = {
        "money": {"amount": _sample_amount(currency), "currency": currency},
        "date": (today + timedelta(days=7)).isoformat(),
        "number": 3,
        "count": 3,
        "url": f"{base}/pay/sample-link",
        "zone": "America/Bogota",
        "time": "08:00",
    }
    return {
        name: samples[kind] if kind in samples else _SAMPLE_TEXT.get(name, "Sample")
        for name, kind in declared.items()
    }


def preview_locales(session, locale):
    """The locales debtors reading this text use: their own (es-CO) when it falls back here."""
    debtor_locales = session.execute(select(distinct(Debtor.locale))).scalars().all()
    tag, register = templates.split_tag(locale)
    language = tag.split("-")[0]
    matching = sorted(t for t in debtor_locales if t and t.split("-")[0] == language and t != tag)
    if "-" in tag:
        matching = []  # a regional text is read only in its own region
    suffix = f"@{register}" if register else ""
    return [locale] + [t + suffix for t in matching]


def preview(session, key, locale, body, today=None):
    """The text each debtor locale would receive, with its WhatsApp and SMS measures."""
    spec = get_key(session, key)
    declared = spec.variables or {}
    body = normalise_body(body)
    items = []
    for tag in preview_locales(session, locale):
        variables = sample_variables(declared, tag, today)
        try:
            text = templates.render_body(body, declared, variables, tag, today)
        except (templates.TemplateError, ValueError) as exc:
            items.append({"locale": tag, "error": str(exc)})
            continue
        items.append(
            {
                "locale": tag,
                "text": text,
                "length": len(text),
                "whatsapp_limit": WHATSAPP_TEMPLATE_LIMIT,
                "too_long": len(text) > WHATSAPP_TEMPLATE_LIMIT,
                "sms": sms_segments(text),
            }
        )
    return items
