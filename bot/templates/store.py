"""The template store: every debtor-facing text, keyed by (key, locale), rendered with Babel."""

import re
from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import yaml
from babel import Locale
from babel.core import get_global
from babel.dates import format_date, format_skeleton, format_time, get_timezone_location
from babel.numbers import (
    format_currency,
    format_decimal,
    get_currency_name,
    get_decimal_symbol,
    get_group_symbol,
    get_territory_currencies,
)
from flask import current_app
from sqlalchemy import func, select

from bot.models import EmailTemplate, MessageTemplate, TemplateKey
from bot.templates import plural

SEED_DIR = Path(__file__).resolve().parent / "seeds"
# count: a number that chooses a plural form (it must be written inside a plural block);
# zone: an IANA zone, told as its city in the debtor's language ("Bogotá", "Ciudad de México");
# time: "HH:MM", told the locale's way ("8:00", "8:00 AM").
VARIABLE_TYPES = ("money", "date", "number", "count", "text", "url", "zone", "time")
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
# The register of address (Spanish: tú, usted, vos). Texts in a register other than the base
# one live under the locale tag with a modifier, as POSIX locales write it: "es@usted".
REGISTERS = ("tu", "usted", "vos")
BASE_REGISTER = "tu"
NBSP = "\u00a0"


class TemplateError(LookupError):
    """A template that is missing or cannot be rendered with the given variables."""


def split_tag(tag):
    """ "es-CO@usted" -> ("es-CO", "usted"); "en" -> ("en", None)."""
    language, _, register = (tag or "").partition("@")
    return language, register or None


def locale_chain(locale, default=None, register=None):
    """es-CO -> [es-CO, es, default]; with register usted: [es-CO@usted, es@usted, es-CO, es,
    default]. Duplicates removed, order kept."""
    default = default or current_app.config["DEFAULT_LOCALE"]
    tag, embedded = split_tag((locale or default).replace("_", "-"))
    register = register or embedded
    chain = [tag]
    if "-" in tag:
        chain.append(tag.split("-", 1)[0])
    if register and register != BASE_REGISTER:
        chain = [f"{t}@{register}" for t in chain] + chain
    chain.append(default)
    return list(dict.fromkeys(chain))


@lru_cache(maxsize=256)
def babel_locale(tag):
    return Locale.parse(split_tag(tag)[0].replace("-", "_"))


def lookup(session, key, locale, register=None):
    """Return (template row, locale used) for the first locale in the chain that has key."""
    chain = locale_chain(locale, register=register)
    rows = session.execute(
        select(MessageTemplate)
        .where(MessageTemplate.key == key, MessageTemplate.locale.in_(chain))
        .where(MessageTemplate.published.is_(True))
    ).scalars()
    best = {}
    for row in rows:  # one query for the whole chain: the latest version per locale
        if row.locale not in best or row.version > best[row.locale].version:
            best[row.locale] = row
    for candidate in chain:
        if candidate in best:
            return best[candidate], candidate
    raise TemplateError(f"no template {key!r} for locale {locale!r} or its fallbacks")


def placeholders(body):
    return set(_PLACEHOLDER.findall(body))


def format_value(kind, value, locale, today=None):
    """Format one variable for the debtor's locale (a babel Locale); today (the debtor's)
    decides whether a date needs its year."""
    if kind == "money":
        return format_money(value, locale)
    if kind == "date":
        day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
        if isinstance(day, datetime):
            day = day.date()
        return format_day(day, locale, today)
    if kind in ("number", "count"):
        return format_decimal(Decimal(str(value)), locale=locale)
    if kind == "zone":
        return zone_city(str(value), locale)
    if kind == "time":
        hour, minute = (int(part) for part in str(value).split(":")[:2])
        return format_time(time(hour, minute), format="short", locale=locale)
    return str(value)


def format_day(day, locale, today=None):
    """ "20 de enero" in the debtor's current year (today), "20 de enero de 2027" otherwise;
    with the year whenever today is not given (a page, a document)."""
    if today is not None and day.year == today.year:
        return format_skeleton("MMMMd", day, locale=locale)
    return format_date(day, format="long", locale=locale)


def zone_city(zone, locale):
    """The zone's city in the debtor's language (CLDR exemplar cities): "Bogotá"."""
    try:
        return get_timezone_location(zone, locale=locale, return_city=True)
    except LookupError:
        return zone.rsplit("/", 1)[-1].replace("_", " ")


def _whole(amount, currency):
    """True when the amount is shown without minor units (CLP, or COP in whole pesos)."""
    _digits, _rounding, cash_digits, _cash = get_global("currency_fractions").get(
        currency, get_global("currency_fractions")["DEFAULT"]
    )
    return cash_digits == 0 and amount == amount.to_integral_value()


def format_money(value, locale):
    """Money as the debtor reads it, never ambiguous.

    In the currency of the locale's own country, the familiar way: "$150.000" in es-CO,
    "$1,250.50" in en-US. In any other currency (a Colombian account read in English, where
    "COP275,500" could be 275.5 to a reader used to decimal commas, and "$" would say dollars),
    the amount with its thousands grouped by a space, which no reader takes for a decimal mark,
    and the currency's name in the debtor's language: "275 500 Colombian pesos".
    """
    amount = Decimal(str(value["amount"]))
    currency = value["currency"]
    whole = _whole(amount, currency)
    territory = locale.territory
    if territory and currency in get_territory_currencies(territory):
        if whole:
            pattern = locale.currency_formats["standard"].pattern.replace(".00", "")
            return format_currency(amount, currency, pattern, locale=locale, currency_digits=False)
        return format_currency(amount, currency, locale=locale)
    number = format_decimal(amount, format="#,##0" if whole else "#,##0.00", locale=locale)
    group, decimal = get_group_symbol(locale), get_decimal_symbol(locale)
    number = number.replace(group, "\x00").replace(decimal, "\x01")
    number = number.replace("\x00", NBSP).replace("\x01", decimal)
    name = get_currency_name(currency, count=amount, locale=locale)
    return f"{number}{NBSP}{name}"


def render_body(body, declared, variables, locale_tag, today=None, escape=None):
    """Choose plural forms, then substitute {name} placeholders using declared types; an
    unknown name is an error. today is the debtor's date (a date shows its year only when it
    is another year's); escape (html.escape for an e-mail's HTML) is applied to each value."""
    locale = babel_locale(locale_tag)
    variables = variables or {}
    try:
        body = plural.expand(body, variables, locale)
    except KeyError as exc:
        raise TemplateError(f"variable {exc.args[0]!r} was not given") from None
    except plural.PluralSyntaxError as exc:
        raise TemplateError(str(exc)) from None

    def substitute(match):
        name = match.group(1)
        if name not in declared:
            raise TemplateError(f"template uses undeclared variable {name!r}")
        if name not in variables or variables[name] is None:
            raise TemplateError(f"variable {name!r} was not given")
        value = format_value(declared[name], variables[name], locale, today)
        return escape(value) if escape else value

    return _PLACEHOLDER.sub(substitute, body)


def format_locale(locale, used):
    """Format with the debtor's own locale when the text came from its language (es-CO money
    for a text written for es), else with the text's."""
    wanted = split_tag(locale or "")[0]
    used = split_tag(used)[0]
    return wanted if wanted.split("-")[0] == used.split("-")[0] else used


def render(session, key, locale, variables=None, register=None, today=None):
    """Render the live template for key in the debtor's locale and register; returns
    (text, locale used)."""
    row, used = lookup(session, key, locale, register)
    spec = session.get(TemplateKey, key)
    declared = spec.variables if spec else {}
    return render_body(row.body, declared, variables, format_locale(locale, used), today), used


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
            found, _names = plural.problems(body, declared, locale)
            problems.extend(f"{locale}/{key}: {p}" for p in found)
            if found:
                continue
            plain = placeholders(plural.without_blocks(body))
            for name in plain - set(declared):
                problems.append(f"{locale}/{key}: uses undeclared variable {name}")
            for name in plain & {n for n, kind in declared.items() if kind == "count"}:
                problems.append(f"{locale}/{key}: count {{{name}}} must be in a plural block")
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
    added += _seed_email(session, keys, seed_dir / "email")
    session.commit()
    return added


EMAIL_PARTS = ("subject", "html", "text")


def load_email_seeds(email_dir):
    """{locale: {key: {"subject", "html", "text"}}} from seeds/email/<locale>.yml."""
    found = {}
    for path in sorted(email_dir.glob("*.yml")) if email_dir.is_dir() else ():
        found[path.stem] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return found


def _seed_email(session, keys, email_dir):
    """E-mail versions of keys (subject, HTML, text), added like text seeds: a new version only
    where the live one is an older seed."""
    problems, added = [], 0
    for locale, entries in load_email_seeds(email_dir).items():
        for key, parts in entries.items():
            declared = (keys.get(key) or {}).get("variables") or {}
            if key not in keys or set(parts) != set(EMAIL_PARTS):
                problems.append(f"email/{locale}/{key}: unknown key or not subject/html/text")
                continue
            parts = {name: parts[name].strip() for name in EMAIL_PARTS}
            for name in set().union(*(placeholders(v) for v in parts.values())) - set(declared):
                problems.append(f"email/{locale}/{key}: uses undeclared variable {name}")
            latest = session.execute(
                select(EmailTemplate)
                .where(EmailTemplate.key == key, EmailTemplate.locale == locale)
                .order_by(EmailTemplate.version.desc())
                .limit(1)
            ).scalar_one_or_none()
            if latest is not None and (
                latest.source != "seed"
                or all(getattr(latest, name) == parts[name] for name in EMAIL_PARTS)
            ):
                continue
            version = latest.version + 1 if latest is not None else 1
            session.add(EmailTemplate(key=key, locale=locale, version=version, **parts))
            added += 1
    if problems:
        raise TemplateError("seed e-mail templates are inconsistent: " + "; ".join(problems))
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
