"""Plural forms in template bodies, chosen by CLDR's rules for the debtor's language (Babel).

A body says how each form reads, in the ICU MessageFormat syntax translators already know:

    te {attempts_left, plural, one {queda # intento} other {quedan # intentos}}

`#` is the number formatted for the locale; `=0 {...}` matches an exact value; `other` is
required (CLDR's catch-all). Simple placeholders ({amount}) may appear inside a form. A
variable declared as a `count` must be written inside a plural block, so "te quedan 1 intentos"
cannot be saved again.
"""

import re
from decimal import Decimal

from babel import Locale
from babel.numbers import format_decimal

CATEGORIES = ("zero", "one", "two", "few", "many", "other")
_HEAD = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*,\s*plural\s*,", re.DOTALL)
_SELECTOR = re.compile(r"\s*(=\d+|[a-z]+)\s*\{")
NUMERIC = ("number", "count")


class PluralSyntaxError(ValueError):
    """A body whose braces or plural blocks cannot be read."""


def _closing(text, start):
    """Index of the brace closing the one at start."""
    depth = 0
    for index in range(start, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return index
    raise PluralSyntaxError("unbalanced brace: every { needs its closing }")


def _branches(rest):
    """[(selector, inner text)] of a plural block's body after "name, plural,"."""
    branches, position = [], 0
    while rest[position:].strip():
        match = _SELECTOR.match(rest, position)
        if match is None:
            raise PluralSyntaxError(
                "a plural block lists forms like one {# día} other {# días}; found "
                f"{rest[position:].strip()[:20]!r}"
            )
        open_at = match.end() - 1
        close_at = _closing(rest, open_at)
        branches.append((match.group(1), rest[open_at + 1 : close_at]))
        position = close_at + 1
    return branches


def blocks(body):
    """Split body into parts: str for plain text and simple placeholders, and
    (name, [(selector, inner)], source) for each plural block."""
    parts, position = [], 0
    while True:
        start = body.find("{", position)
        if start < 0:
            parts.append(body[position:])
            return parts
        end = _closing(body, start)
        inner = body[start + 1 : end]
        head = _HEAD.match(inner)
        if head is None:
            if "{" in inner:
                raise PluralSyntaxError(
                    f"{{{inner[:30]}...}} is neither a variable nor a plural block"
                )
            parts.append(body[position : end + 1])
        else:
            parts.append(body[position:start])
            parts.append((head.group(1), _branches(inner[head.end() :]), body[start : end + 1]))
        position = end + 1


def _has_plural(body):
    return re.search(r",\s*plural\s*,", body or "") is not None


def _language_locale(locale):
    return locale if isinstance(locale, Locale) else Locale.parse(locale.replace("-", "_"))


def choose(branches, value, locale):
    """The inner text of the branch CLDR's rule picks for value in locale."""
    number = Decimal(str(value))
    by_selector = dict(branches)
    exact = f"={number.normalize():f}" if number == number.to_integral_value() else None
    if exact in by_selector:
        return by_selector[exact]
    category = _language_locale(locale).plural_form(number)
    return by_selector.get(category, by_selector.get("other", ""))


def expand(body, variables, locale):
    """Replace every plural block by its chosen form with # formatted; plain placeholders are
    left for the caller. Raises KeyError naming a variable that was not given."""
    if not _has_plural(body):
        return body
    out = []
    for part in blocks(body):
        if isinstance(part, str):
            out.append(part)
            continue
        name, branches, _source = part
        if variables.get(name) is None:
            raise KeyError(name)
        value = variables[name]
        inner = choose(branches, value, locale)
        out.append(inner.replace("#", format_decimal(Decimal(str(value)), locale=locale)))
    return "".join(out)


def problems(body, declared, locale_tag=None):
    """(problems, plural variable names) of the plural blocks in body; the plain placeholders
    outside them are the caller's to check."""
    if not _has_plural(body):
        return [], set()
    try:
        parts = blocks(body)
    except PluralSyntaxError as exc:
        return [str(exc)], set()
    found, names = [], set()
    allowed = set(CATEGORIES)
    if locale_tag:
        language = locale_tag.split("@")[0].replace("-", "_")
        allowed = set(Locale.parse(language).plural_form.tags) | {"other"}
    for part in parts:
        if isinstance(part, str):
            continue
        name, branches, source = part
        names.add(name)
        if name not in declared:
            found.append(f"plural block uses undeclared variable {{{name}}}")
        elif declared[name] not in NUMERIC:
            found.append(f"{{{name}}} is not a number, so it cannot choose a plural form")
        selectors = [selector for selector, _inner in branches]
        if "other" not in selectors:
            found.append(f"the plural block of {{{name}}} needs an `other {{...}}` form")
        for selector in selectors:
            if not selector.startswith("=") and selector not in allowed:
                hint = ", ".join(sorted(allowed))
                found.append(
                    f"{selector!r} is not a plural form of this language (forms: {hint}, or =N)"
                )
        for _selector, inner in branches:
            if "{" in inner and re.search(r"\{[^{}]*,\s*plural", inner):
                found.append(f"plural blocks cannot be nested (in {source[:40]!r})")
    return found, names


def without_blocks(body):
    """The body with its plural blocks replaced by their forms' text joined: what is left for
    the plain-placeholder check ({amount} inside a form still counts as used)."""
    if not _has_plural(body):
        return body
    out = []
    for part in blocks(body):
        if isinstance(part, str):
            out.append(part)
        else:
            out.append(" ".join(inner.replace("#", "") for _s, inner in part[1]))
    return "".join(out)
