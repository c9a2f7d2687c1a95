"""E-mails from the template store: a key's e-mail version (subject, HTML, text) for the
debtor's locale, or its text body, inside one responsive, accessible layout whose CSS is inlined
(css-inline) so that mail clients that drop <style> still show it.

Every e-mail ends with the footer (who writes and why, a visible unsubscribe link); values are
HTML-escaped in the HTML part, links made clickable.
"""

import html
import re
from dataclasses import dataclass

import css_inline
from sqlalchemy import select

from bot.models import EmailTemplate, TemplateKey
from bot.templates import store

_URL = re.compile(r"https?://[^\s<>\"']+")

# Mobile first: one column, at most 600 px wide; system fonts; contrast at least 4.5:1 (the
# text #1f2933 and the button #0b5cad on white); a button at least 44 px high.
_CSS = """
body { margin: 0; padding: 0; background-color: #f3f4f6; color: #1f2933;
  font-family: -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif;
  font-size: 16px; line-height: 1.5; }
.wrapper { width: 100%; background-color: #f3f4f6; padding: 16px 0; }
.main { width: 100%; max-width: 600px; margin: 0 auto; background-color: #ffffff;
  border-radius: 6px; }
.content { padding: 24px; }
h1 { font-size: 20px; line-height: 1.3; margin: 0 0 16px 0; color: #1f2933; }
p { margin: 0 0 16px 0; }
a { color: #0b5cad; text-decoration: underline; }
.cta { margin: 24px 0; }
a.button { display: inline-block; background-color: #0b5cad; color: #ffffff;
  text-decoration: none; font-weight: bold; padding: 12px 24px; border-radius: 4px;
  min-height: 20px; }
.small { font-size: 14px; color: #4b5563; word-break: break-all; }
.footer { padding: 16px 24px; font-size: 13px; color: #4b5563; border-top: 1px solid #e5e7eb; }
@media only screen and (max-width: 620px) {
  .content { padding: 16px !important; }
  a.button { display: block !important; text-align: center !important; }
}
"""

_LAYOUT = """<!DOCTYPE html>
<html lang="{lang}" dir="ltr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="x-apple-disable-message-reformatting">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<div class="wrapper" role="article" aria-roledescription="email" aria-label="{title}" lang="{lang}">
<table class="main" role="presentation" cellpadding="0" cellspacing="0" border="0" align="center">
<tr><td class="content">
{content}
</td></tr>
<tr><td class="footer">
<p>{footer}</p>
</td></tr>
</table>
</div>
</body>
</html>
"""

_INLINER = css_inline.CSSInliner(keep_style_tags=True)


@dataclass
class RenderedEmail:
    subject: str
    text: str
    html: str
    version: int | None  # the e-mail template's version, None for a text body in the layout


def linkify(escaped):
    """Make the URLs of already-escaped text clickable."""
    return _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)


def paragraphs(text):
    """Plain text as escaped HTML paragraphs, links clickable."""
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text or "") if b.strip()]
    return "\n".join(
        "<p>" + linkify(html.escape(block)).replace("\n", "<br>\n") + "</p>" for block in blocks
    )


def lookup(session, key, locale):
    """(the live e-mail template, locale used) for key, or (None, None) when it has none."""
    for candidate in store.locale_chain(locale):
        row = session.execute(
            select(EmailTemplate)
            .where(EmailTemplate.key == key, EmailTemplate.locale == candidate)
            .where(EmailTemplate.published.is_(True))
            .order_by(EmailTemplate.version.desc())
            .limit(1)
        ).scalar_one_or_none()
        if row is not None:
            return row, candidate
    return None, None


def layout(content_html, footer_text, title, lang):
    """The full HTML document around content, with the CSS inlined."""
    document = _LAYOUT.format(
        lang=html.escape(lang.split("-")[0]),
        title=html.escape(title),
        css=_CSS,
        content=content_html,
        footer=linkify(html.escape(footer_text)),
    )
    return _INLINER.inline(document)


def _declared(session, key):
    spec = session.get(TemplateKey, key)
    return spec.variables if spec else {}


def _memo(cache, name, compute):
    """compute() once per name in cache (a dict the caller keeps for one batch), or always."""
    if cache is None:
        return compute()
    if name not in cache:
        cache[name] = compute()
    return cache[name]


def _text(session, key, locale, variables, cache=None):
    """A text template rendered like store.render, its row and declared variables looked up
    once per batch."""
    row, used = _memo(cache, ("text", key, locale), lambda: store.lookup(session, key, locale))
    declared = _memo(cache, ("declared", key), lambda: _declared(session, key))
    fmt = locale if (locale or "").split("-")[0] == used.split("-")[0] else used
    return store.render_body(row.body, declared, variables, fmt)


def footer(session, locale, creditor, unsubscribe_url, cache=None):
    variables = {"creditor": creditor, "unsubscribe_url": unsubscribe_url}
    return _text(session, "email.footer", locale, variables, cache)


def default_subject(session, locale, creditor, cache=None):
    return _text(session, "email.default_subject", locale, {"creditor": creditor}, cache)


def render_parts(session, row, declared, variables, locale):
    """(subject, text, content HTML) of an e-mail template row with variables."""
    fmt = locale if locale.split("-")[0] == row.locale.split("-")[0] else row.locale
    subject = store.render_body(row.subject, declared, variables, fmt)
    text = store.render_body(row.text, declared, variables, fmt)
    content = store.render_body(row.html, declared, variables, fmt, escape=html.escape)
    return " ".join(subject.split()), text, content


def render_email(
    session, key, locale, variables, body, creditor, unsubscribe_url, subject=None, cache=None
):
    """The e-mail for a message: the key's e-mail template when it has one for the locale,
    otherwise body (the message's text) in the layout under subject (or the default subject).
    The footer is added to both parts. cache (a dict kept for one batch) holds the template
    rows looked up."""
    foot = footer(session, locale, creditor, unsubscribe_url, cache)
    row = None
    if key:
        row, _used = _memo(cache, ("email", key, locale), lambda: lookup(session, key, locale))
    if row is not None:
        declared = _memo(cache, ("declared", key), lambda: _declared(session, key))
        subject_text, text, content = render_parts(session, row, declared, variables or {}, locale)
        version = row.version
    else:
        subject_text = subject or default_subject(session, locale, creditor, cache)
        text, content, version = body or "", paragraphs(body), None
    return RenderedEmail(
        subject=subject_text[:255],
        text=f"{text.rstrip()}\n\n--\n{foot}\n",
        html=layout(content, foot, subject_text, locale),
        version=version,
    )
