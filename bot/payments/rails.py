"""Pay by reference: how to pay in each country without a provider's checkout (a bank account,
a wallet, a cash network), from data the creditor edits, and the payment reference that ties a
transfer to its debt.

Methods are rows of rail_methods seeded from seeds/local_rails.yaml; an admin fills the
creditor's data (validated field by field: patterns, choices and check digits) and enables
them. The debtor sees only enabled methods whose required fields are filled, on the pay page
and in the chat (instructions(), which the chat can call with the debtor's own words: "¿a qué
cuenta consigno, Nequi o Daviplata?" answers with those two).
"""

import re
import unicodedata
from pathlib import Path

import yaml
from flask import current_app
from sqlalchemy import func, select

from bot import audit
from bot.models import AuditEvent, RailMethod
from bot.payments.rail_checks import CHECKS, luhn, luhn_digit

SEED = Path(__file__).resolve().parent / "seeds" / "local_rails.yaml"
MAX_VALUE = 200
RECEIPT, PROVIDER = "receipt", "provider"
# A method an admin adds (any country): who receives the money and free-text instructions.
CUSTOM_FIELDS = {
    "holder_name": {"label": {"es": "Titular", "en": "Holder"}, "required": True},
    "details": {"label": {"es": "Datos", "en": "Details"}, "required": True, "multiline": True},
}
DEFAULT_WHERE = {
    "es": "la descripción o el mensaje del pago",
    "en": "the payment's description or message",
}


class RailError(ValueError):
    """Method data that cannot be saved; problems maps each field to what is wrong."""

    def __init__(self, problems):
        super().__init__("; ".join(problems.values()))
        self.problems = problems


def seed(session, path=SEED):
    """Add the seed's methods that are not there yet (an admin's edits are never touched);
    return how many were added."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    existing = set(session.execute(select(RailMethod.country, RailMethod.code)).all())
    added = 0
    for country, methods in data.items():
        for position, spec in enumerate(methods):
            if (country, spec["code"]) in existing:
                continue
            fields = spec.get("fields") or {}
            session.add(
                RailMethod(
                    country=country,
                    code=spec["code"],
                    name=spec["name"],
                    kind=spec["kind"],
                    via=spec.get("via"),
                    confirmation=spec["confirmation"],
                    fields=fields,
                    values={n: f["default"] for n, f in fields.items() if "default" in f},
                    reference_where=spec.get("reference"),
                    position=position,
                    # Provider-issued methods need no data; the others wait for an admin.
                    enabled=spec.get("via") is not None,
                )
            )
            added += 1
    session.commit()
    return added


# -- the payment reference ---------------------------------------------------------------------


def payment_reference(account):
    """The account's payment reference: its number (six digits or more) and a Luhn digit, all
    numeric so it fits SPEI's numeric reference and survives being retyped from a photo."""
    digits = f"{account.id:06d}"
    return digits + luhn_digit(digits)


def account_id_from_reference(text):
    """The account id a reference names, or None when it is not one (a typo fails the check)."""
    digits = re.sub(r"[\s.-]", "", str(text or ""))
    if len(digits) < 7 or len(digits) > 12 or not luhn(digits):
        return None
    return int(digits[:-1])


# -- the creditor's data, edited by admins --------------------------------------------------------


def field_label(spec, name, lang="en"):
    label = spec.get("label") or {}
    return label.get(lang) or label.get("es") or name.replace("_", " ").capitalize()


def validate(method, form):
    """Clean values for the method's fields from form (a mapping); RailError otherwise."""
    values, problems = {}, {}
    for name, spec in method.fields.items():
        raw = str(form.get(name) or "").replace("\x00", "")
        multiline = spec.get("multiline")
        value = raw.replace("\r\n", "\n").strip() if multiline else " ".join(raw.split())
        label = field_label(spec, name)
        if not value:
            if spec.get("required"):
                problems[name] = f"{label} is required."
            continue
        limit = 1000 if multiline else MAX_VALUE
        if len(value) > limit:
            problems[name] = f"{label} is longer than {limit} characters."
        elif spec.get("choices") and value not in spec["choices"]:
            problems[name] = f"{label} must be one of: {', '.join(spec['choices'])}."
        elif spec.get("pattern") and not re.fullmatch(spec["pattern"], value):
            problems[name] = f"{label} does not have the expected format."
        elif spec.get("check") and not CHECKS[spec["check"]](value):
            problems[name] = f"{label} fails its check digit: look for a typo."
        values[name] = value
    return values, problems


def is_complete(method):
    """Every required field has a value."""
    values = method.values or {}
    return all(values.get(n) for n, spec in method.fields.items() if spec.get("required"))


def update(session, method, form, enabled, user_actor):
    """Save an admin's edit of a method (audited with before and after); RailError when a
    field is wrong or an incomplete method would be enabled."""
    values, problems = validate(method, form)
    if enabled and not problems and method.via is None:
        missing = [n for n, s in method.fields.items() if s.get("required") and not values.get(n)]
        if missing:
            problems["enabled"] = "Fill in every required field before enabling the method."
    if problems:
        raise RailError(problems)
    before = {"values": method.values or {}, "enabled": method.enabled}
    method.values, method.enabled = values, bool(enabled)
    changes = {
        name: [before["values"].get(name), values.get(name)]
        for name in sorted(set(before["values"]) | set(values))
        if before["values"].get(name) != values.get(name)
    }
    if before["enabled"] != method.enabled:
        changes["enabled"] = [before["enabled"], method.enabled]
    if changes:
        audit.record(session, user_actor, "rail_method.updated", method, {"changes": changes})
    return changes


def add_custom(session, country, name, user_actor):
    """A method of the admin's own (any country): a holder and free-text details."""
    country = (country or "").strip().upper()
    name = " ".join((name or "").split())
    problems = {}
    if not re.fullmatch(r"[A-Z]{2}", country):
        problems["country"] = "Give the country as two letters (ISO 3166), like CO."
    if not name or len(name) > 120:
        problems["name"] = "Give the method a name (at most 120 characters)."
    if problems:
        raise RailError(problems)
    count = session.execute(
        select(func.count()).select_from(RailMethod).where(RailMethod.country == country)
    ).scalar()
    method = RailMethod(
        country=country,
        code=f"custom_{count + 1}",
        name=name,
        kind="custom",
        confirmation=RECEIPT,
        fields=CUSTOM_FIELDS,
        values={},
        reference_where=None,
        position=count,
        enabled=False,
    )
    session.add(method)
    session.flush()
    audit.record(session, user_actor, "rail_method.added", method, {"name": name})
    return method


def catalogue(session):
    """{country: [methods]} for the admin console, countries and methods in order."""
    rows = session.execute(
        select(RailMethod).order_by(RailMethod.country, RailMethod.position, RailMethod.id)
    ).scalars()
    found = {}
    for row in rows:
        found.setdefault(row.country, []).append(row)
    return found


# -- what the debtor sees -----------------------------------------------------------------------


def usable(session, country):
    """Methods the debtor can follow by hand: enabled, confirmed by receipt, data complete."""
    rows = session.execute(
        select(RailMethod)
        .where(RailMethod.country == country, RailMethod.enabled.is_(True))
        .where(RailMethod.confirmation == RECEIPT)
        .order_by(RailMethod.position, RailMethod.id)
    ).scalars()
    return [row for row in rows if is_complete(row)]


def through_provider(session, country, provider_name=None):
    """Names of the enabled methods the configured provider's checkout offers (PSE, OXXO...)."""
    provider_name = provider_name or current_app.config["PAYMENT_PROVIDER"]
    rows = session.execute(
        select(RailMethod.name)
        .where(RailMethod.country == country, RailMethod.enabled.is_(True))
        .where(RailMethod.via == provider_name)
        .order_by(RailMethod.position, RailMethod.id)
    ).scalars()
    return list(rows)


def lines(method, lang):
    """[(label, value)] of a method's data in the debtor's language, in the seed's order."""
    values = method.values or {}
    return [
        (field_label(spec, name, lang), values[name])
        for name, spec in method.fields.items()
        if values.get(name)
    ]


def where(method, lang):
    return (method.reference_where or {}).get(lang) or DEFAULT_WHERE.get(lang, DEFAULT_WHERE["es"])


def _plain(text):
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def mentioned(methods, text):
    """The methods the debtor names in text ("nequi o daviplata", "por spei"); all when the
    text names none of them."""
    words = set(re.findall(r"[a-z0-9]+", _plain(text or "")))
    picked = []
    for method in methods:
        names = {
            method.code.replace("_", " ").split()[0],
            *re.findall(r"[a-z0-9]+", _plain(method.name)),
        }
        names -= {"de", "del", "la", "el", "en", "o", "y", "con", "desde", "tu"}
        if any(len(n) > 2 and n in words for n in names):
            picked.append(method)
    return picked or list(methods)


def instructions(session, account, lang, text=None, limit=3):
    """What the chat says for "how do I pay by transfer?": a list of (template key,
    variables), one message per method the debtor named (or every usable one, at most
    limit), each with the account's payment reference; [] when the creditor published none."""
    methods = mentioned(usable(session, account.debtor.country), text)[:limit]
    reference = payment_reference(account)
    return [
        (
            "payment.by_reference",
            {
                "method": method.name,
                "details": "\n".join(f"{label}: {value}" for label, value in lines(method, lang)),
                "reference": reference,
                "where": where(method, lang),
            },
        )
        for method in methods
    ]


def history(session, method, limit=50):
    """The audited changes of a method, newest first."""
    return (
        session.execute(
            select(AuditEvent)
            .where(
                AuditEvent.subject_type == RailMethod.__tablename__,
                AuditEvent.subject_id == str(method.id),
            )
            .order_by(AuditEvent.id.desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )


# Example data for sandbox mode's demo (`flask load-demo` without Twilio credentials): made-up
# numbers that pass their check digits, so the demo pay page and chat show pay-by-reference.
DEMO = {
    ("CO", "nequi"): {"phone": "3001234567", "holder_name": "Cobranzas Demo S.A.S."},
    ("MX", "spei"): {
        "clabe": "032180000118359719",
        "bank": "BBVA México",
        "holder_name": "Cobranzas Demo S.A. de C.V.",
    },
    ("CL", "transferencia"): {
        "holder_name": "Cobranzas Demo SpA",
        "rut": "76086428-5",
        "bank": "Banco Estado",
        "account_type": "corriente",
        "account_number": "123456789",
    },
    ("PE", "yape"): {"phone": "987654321", "holder_name": "Cobranzas Demo S.A.C."},
}


def load_demo(session):
    """Fill the demo methods that nobody has filled yet (never an admin's data); return how many."""
    filled = 0
    for (country, code), values in DEMO.items():
        row = session.execute(
            select(RailMethod).where(RailMethod.country == country, RailMethod.code == code)
        ).scalar_one_or_none()
        if row is None or row.values or row.enabled:
            continue
        update(session, row, values, True, "demo")
        filled += 1
    session.commit()
    return filled
