"""Editing a key's e-mail version from the admin console: subject, HTML and text checked against
the key's variables (the same rules as its text), saved as a new version (audited, before and
after), previewed as the debtor would receive it (the layout, the footer, sample values)."""

import re

from sqlalchemy import func, select

from bot import audit, users
from bot.models import EmailTemplate
from bot.templates import admin as template_admin
from bot.templates import email as email_templates

PARTS = ("subject", "html", "text")
SUBJECT_LIMIT = 255
# What an e-mail's HTML may not carry: scripts and handlers never run in mail clients and mark
# a message as spam; forms and frames are stripped by most clients.
_FORBIDDEN = (
    (re.compile(r"<\s*(script|iframe|object|embed|form)\b", re.I), "scripts, frames and forms"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "event handlers (on...=)"),
    (re.compile(r"javascript:", re.I), "javascript: links"),
)


def live(session, key, locale):
    """The live e-mail version of key in exactly this locale, or None."""
    return session.execute(
        select(EmailTemplate)
        .where(EmailTemplate.key == key, EmailTemplate.locale == locale)
        .where(EmailTemplate.published.is_(True))
        .order_by(EmailTemplate.version.desc())
        .limit(1)
    ).scalar_one_or_none()


def normalise(parts):
    subject = " ".join((parts.get("subject") or "").split())
    return {
        "subject": subject,
        "html": template_admin.normalise_body(parts.get("html") or ""),
        "text": template_admin.normalise_body(parts.get("text") or ""),
    }


def check(parts, spec, locale=None):
    """Every problem of an e-mail version, each naming its part; [] when it is fine."""
    declared, optional = spec.variables or {}, spec.optional or []
    problems = []
    if len(parts["subject"]) > SUBJECT_LIMIT:
        problems.append(f"subject: longer than {SUBJECT_LIMIT} characters")
    for name in PARTS:
        # The subject may leave any variable out; the HTML and the text must each carry the
        # required ones, as the key's text does.
        allowed_out = list(declared) if name == "subject" else optional
        for problem in template_admin.check_body(parts[name], declared, allowed_out):
            problems.append(f"{name}: {problem}")
    for pattern, what in _FORBIDDEN:
        if pattern.search(parts["html"]):
            problems.append(f"html: e-mails may not contain {what}")
    return problems


def save(session, spec, locale, parts, user):
    """Publish parts as the next version (None when nothing changed). Raises
    TemplateValidationError."""
    parts = normalise(parts)
    problems = check(parts, spec, locale)
    if problems:
        raise template_admin.TemplateValidationError(problems)
    current = live(session, spec.key, locale)
    if current is not None and all(getattr(current, n) == parts[n] for n in PARTS):
        return None
    version = (
        session.execute(
            select(func.max(EmailTemplate.version)).where(
                EmailTemplate.key == spec.key, EmailTemplate.locale == locale
            )
        ).scalar()
        or 0
    ) + 1
    row = EmailTemplate(
        key=spec.key,
        locale=locale,
        version=version,
        published=True,
        source="admin",
        created_by=users.actor(user) if user is not None else "cli",
        **parts,
    )
    session.add(row)
    before = {n: getattr(current, n) for n in PARTS} if current is not None else None
    audit.record(
        session,
        row.created_by,
        "template.email_saved",
        row,
        {"key": spec.key, "locale": locale, "version": version, "before": before, "after": parts},
    )
    return row


def preview(session, spec, locale, parts, creditor, base_url):
    """The e-mail as a debtor in locale would receive it, with sample values: a RenderedEmail
    (subject, text with the footer, the full HTML document)."""
    parts = normalise(parts)
    variables = template_admin.sample_variables(spec.variables or {}, locale)
    row = EmailTemplate(key=spec.key, locale=locale, version=0, **parts)
    subject, text, content = email_templates.render_parts(
        session, row, spec.variables or {}, variables, locale
    )
    foot = email_templates.footer(
        session, locale, creditor, f"{base_url}/email/unsubscribe/sample-token"
    )
    return email_templates.RenderedEmail(
        subject=subject,
        text=f"{text.rstrip()}\n\n--\n{foot}\n",
        html=email_templates.layout(content, foot, subject, locale),
        version=None,
    )
