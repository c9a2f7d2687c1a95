"""The template store: every debtor-facing text, keyed by (key, locale), rendered with Babel."""

import re
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import yaml
from babel import Locale
from babel.core import get_global
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal
from flask import current_app
from sqlalchemy import func, select

from bot.models import MessageTemplate, TemplateKey

SEED_DIR = Path(__file__).resolve().parent / "seeds"
VARIABLE_TYPES = ("money", "date", "number", "text", "url")
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


class TemplateError(LookupError):
    """A template that is missing or cannot be rendered with the given variables."""


def locale_chain(locale, default=None):
    """es-CO -> [es-CO, es, default]; duplicates removed, order kept."""
    default = default or current_app.config["DEFAULT_LOCALE"]
    tag = (locale or default).replace("_", "-")
    chain = [tag]
    if "-" in tag:
        chain.append(tag.split("-", 1)[0])
    chain.append(default)
    return list(dict.fromkeys(chain))


@lru_cache(maxsize=256)
def babel_locale(tag):
    return Locale.parse(tag.replace("-", "_"))


def lookup(session, key, locale):
    """Return (template row, locale used) for the first locale in the chain that has key."""
    for candidate in locale_chain(locale):
        latest = (
            select(MessageTemplate)
            .where(MessageTemplate.key == key, MessageTemplate.locale == candidate)
            .where(MessageTemplate.published.is_(True))
            .order_by(MessageTemplate.version.desc())
            .limit(1)
        )
        row = session.execute(latest).scalar_one_or_none()
        if row is not None:
            return row, candidate
    raise TemplateError(f"no template {key!r} for locale {locale!r} or its fallbacks")


def placeholders(body):
    return set(_PLACEHOLDER.findall(body))


def format_value(kind, value, locale):
    """Format one variable for the debtor's locale (a babel Locale)."""
    if kind == "money":
        return format_money(value, locale)
    if kind == "date":
        day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
        if isinstance(day, datetime):
            day = day.date()
        return format_date(day, format="long", locale=locale)
    if kind == "number":
        return format_decimal(Decimal(str(value)), locale=locale)
    return str(value)


def format_money(value, locale):
    """Money as the debtor reads it: "$ 150.000" in es-CO, "$1,250.50" in en-US."""
    amount = Decimal(str(value["amount"]))
    currency = value["currency"]
    _digits, _rounding, cash_digits, _cash_rounding = get_global("currency_fractions").get(
        currency, get_global("currency_fractions")["DEFAULT"]
    )
    if cash_digits == 0 and amount == amount.to_integral_value():
        pattern = locale.currency_formats["standard"].pattern.replace(".00", "")
        return format_currency(amount, currency, pattern, locale=locale, currency_digits=False)
    return format_currency(amount, currency, locale=locale)


def render_body(body, declared, variables, locale_tag):
    """Substitute {name} placeholders using declared types; an unknown name is an error."""
    locale = babel_locale(locale_tag)
    variables = variables or {}

    def substitute(match):
        name = match.group(1)
        if name not in declared:
            raise TemplateError(f"template uses undeclared variable {name!r}")
        if name not in variables or variables[name] is None:
            raise TemplateError(f"variable {name!r} was not given")
        return format_value(declared[name], variables[name], locale)

    return _PLACEHOLDER.sub(substitute, body)


def render(session, key, locale, variables=None):
    """Render the live template for key in the debtor's locale; returns (text, locale used)."""
    row, used = lookup(session, key, locale)
    spec = session.get(TemplateKey, key)
    declared = spec.variables if spec else {}
    # Format with the debtor's own locale when the text came from its language (es-CO money).
    fmt_locale = locale if (locale or "").split("-")[0] == used.split("-")[0] else used
    return render_body(row.body, declared, variables, fmt_locale), used


def load_seed_files(seed_dir=SEED_DIR):
    """Read keys.yml (declared variables) and <locale>.yml bodies from the repository."""
    keys = yaml.safe_load((seed_dir / "keys.yml").read_text(encoding="utf-8"))
    bodies = {}
    for path in sorted(seed_dir.glob("*.yml")):
        if path.stem == "keys":
            continue
        bodies[path.stem] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return keys, bodies


def check_seed(keys, bodies):
    """Return a list of problems: bodies for unknown keys, undeclared variables, bad types."""
    problems = []
    for key, spec in keys.items():
        for name, kind in (spec.get("variables") or {}).items():
            if kind not in VARIABLE_TYPES:
                problems.append(f"{key}: variable {name} has unknown type {kind}")
        for name in spec.get("optional") or []:
            if name not in (spec.get("variables") or {}):
                problems.append(f"{key}: optional variable {name} is not declared")
    for locale, entries in bodies.items():
        for key, body in entries.items():
            if key not in keys:
                problems.append(f"{locale}/{key}: key not declared in keys.yml")
                continue
            declared = keys[key].get("variables") or {}
            for name in placeholders(body) - set(declared):
                problems.append(f"{locale}/{key}: uses undeclared variable {name}")
    return problems


def seed(session, seed_dir=SEED_DIR):
    """Load seed templates; add a new version only where the live one is an older seed."""
    keys, bodies = load_seed_files(seed_dir)
    problems = check_seed(keys, bodies)
    if problems:
        raise TemplateError("seed templates are inconsistent: " + "; ".join(problems))
    for key, spec in keys.items():
        row = session.get(TemplateKey, key)
        if row is None:
            session.add(
                TemplateKey(
                    key=key,
                    description=spec.get("description"),
                    variables=spec.get("variables") or {},
                    optional=spec.get("optional") or [],
                )
            )
        else:
            row.description = spec.get("description")
            row.variables = spec.get("variables") or {}
            row.optional = spec.get("optional") or []
    session.flush()
    added = 0
    for locale, entries in bodies.items():
        for key, body in entries.items():
            body = body.strip()
            latest = session.execute(
                select(MessageTemplate)
                .where(MessageTemplate.key == key, MessageTemplate.locale == locale)
                .order_by(MessageTemplate.version.desc())
                .limit(1)
            ).scalar_one_or_none()
            if latest is not None and (latest.source != "seed" or latest.body == body):
                continue
            version = (
                session.execute(
                    select(func.max(MessageTemplate.version)).where(
                        MessageTemplate.key == key, MessageTemplate.locale == locale
                    )
                ).scalar()
                or 0
            )
            session.add(MessageTemplate(key=key, locale=locale, version=version + 1, body=body))
            added += 1
    session.commit()
    return added


def content_variables(spec, variables, locale):
    """Twilio's numbered slots of an approved template filled with our variables, formatted
    as in the text ({"1": "Camila", "2": "$150.000"})."""
    declared = spec.variables if spec else {}
    mapping = (spec.content_variables if spec else None) or {}
    babel = babel_locale(locale)
    filled = {}
    for slot, name in mapping.items():
        if name not in variables:
            raise TemplateError(f"content variable {slot} needs {name!r}")
        filled[str(slot)] = format_value(declared.get(name, "text"), variables[name], babel)
    return filled
