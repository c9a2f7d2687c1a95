"""Debt import from CSV with row-level validation; upsert by external_id.

The file is streamed line by line: a line that is not UTF-8, holds a NUL, a field over
MAX_FIELD, a value longer than its column or an amount beyond inputs.MAX_MINOR is one bad row,
reported with its line, and never stops the rows after it. Rows are written in batches; a batch
the database refuses is written again row by row, so only the refused row is lost.
"""

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from babel import Locale, UnknownLocaleError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from bot import audit, clock, inputs, phones, statuses
from bot.contact import consent
from bot.contact.calendar import subdivisions_of
from bot.conversations import verification
from bot.ledger import entries
from bot.models import Account, Debtor
from bot.money import MoneyError, check_currency, parse_minor

REQUIRED = (
    "external_id",
    "full_name",
    "phone",
    "country",
    "locale",
    "currency",
    "amount_due",
    "due_date",
    "id_last4",
)
# Countries with a numbering plan (ISO 3166 alpha-2): not ZZ (unknown), EU or UN, which a
# locale list knows but no debtor lives in.
_COUNTRIES = frozenset(phonenumbers.SUPPORTED_REGIONS)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ID4 = re.compile(r"^[0-9A-Za-z]{4}$")
_REGION = re.compile(r"^[0-9A-Z]{1,8}$")
# Consent per channel (import columns consent_whatsapp, consent_sms, consent_email): the
# evidence columns say when (consent_at), how (consent_method) and what (consent_evidence).
CONSENT_COLUMNS = {"consent_whatsapp": "whatsapp", "consent_sms": "sms", "consent_email": "email"}
_YES = {"yes", "y", "si", "sí", "s", "true", "1", "x"}
_NO = {"no", "n", "false", "0"}
# csv's own limit on one field (128 KiB), named so the error can say it.
MAX_FIELD = 128 * 1024
# Rows written per commit; a batch the database refuses is written again row by row.
BATCH = 500
# Longest value per column, from the models: the importer and the database agree.
LIMITS = {
    "external_id": inputs.length(Account.external_id),
    "full_name": inputs.length(Debtor.full_name),
    "email": inputs.length(Debtor.email),
    "segment": inputs.length(Debtor.segment),
    "phone": 40,
    "country": 8,
    "locale": inputs.length(Debtor.locale),
    "currency": 8,
    "amount_due": 40,
    "due_date": 20,
    "id_last4": 8,
}


class RowError(ValueError):
    """A row that cannot be imported, with the reason."""


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list = field(default_factory=list)  # (line, reason)

    @property
    def rejected(self):
        return len(self.errors)

    def summary(self):
        return (
            f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.rejected} rejected"
        )


def _checked(row):
    """The row's values as text within their columns' limits, or RowError."""
    values = {}
    for name, value in row.items():
        if name is None or value is None:
            continue
        if any("\udc80" <= ch <= "\udcff" for ch in value):
            raise RowError("the line is not UTF-8 text")
        try:
            values[name] = inputs.text(value, name, LIMITS.get(name, 200))
        except inputs.BadInput as exc:
            raise RowError(str(exc)) from None
    return values


def parse_row(row):
    """Validate one CSV row; return clean values or raise RowError naming the first problem."""
    row = _checked(row)
    missing = [name for name in REQUIRED if not row.get(name)]
    if missing:
        raise RowError(f"missing value for {', '.join(missing)}")
    clean = {name: row[name] for name in REQUIRED}
    country = clean["country"].upper()
    if len(country) != 2 or country not in _COUNTRIES:
        raise RowError(f"country {clean['country']!r} is not an ISO 3166 alpha-2 code")
    try:
        locale = Locale.parse(clean["locale"].replace("-", "_"))
    except (ValueError, UnknownLocaleError) as exc:
        raise RowError(f"locale {clean['locale']!r} is not a known locale like es-CO") from exc
    try:
        currency = check_currency(clean["currency"])
        amount = parse_minor(clean["amount_due"], currency)
    except MoneyError as exc:
        raise RowError(str(exc)) from exc
    if amount > inputs.MAX_MINOR:
        raise RowError(
            f"amount_due is larger than this system accepts ({inputs.MAX_MINOR} minor units)"
        )
    try:
        due = date.fromisoformat(clean["due_date"])
    except ValueError as exc:
        raise RowError(f"due_date {clean['due_date']!r} is not a date as YYYY-MM-DD") from exc
    try:
        phone = phones.normalise(clean["phone"], country, geographic=True)
    except phones.PhoneError as exc:
        raise RowError(str(exc)) from exc
    if not _ID4.match(clean["id_last4"]):
        raise RowError("id_last4 must be exactly four letters or digits")
    email = row.get("email")
    if email and not _EMAIL.match(email):
        raise RowError("email is not a valid address")
    locale_tag = locale.language + (f"-{locale.territory}" if locale.territory else "")
    return {
        **_contact_columns(row, country),
        "external_id": clean["external_id"],
        "full_name": clean["full_name"],
        "phone": phone,
        "country": country,
        "locale": locale_tag,
        "currency": currency,
        "amount_minor": amount,
        "due_date": due,
        "id_last4": clean["id_last4"],
        "email": email,
        "segment": row.get("segment"),
    }


def _cell(row, name):
    return (row.get(name) or "").strip()


def _contact_columns(row, country):
    """The optional address zone, region and per-channel consent of a row."""
    zone = _cell(row, "timezone") or None
    if zone:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise RowError(f"timezone {zone!r} is not an IANA zone like America/Bogota") from exc
    region = _cell(row, "region").upper() or None
    if region:
        known = subdivisions_of(country)
        if not _REGION.match(region) or (known and region not in known):
            raise RowError(f"region {region!r} is not a subdivision code of {country}")
    consents = {}
    for column, channel in CONSENT_COLUMNS.items():
        value = _cell(row, column).lower()
        if not value:
            continue
        if value not in _YES | _NO:
            raise RowError(f"{column} must be yes or no")
        consents[channel] = "granted" if value in _YES else "revoked"
    evidence = None
    if consents:
        at_text = _cell(row, "consent_at")
        if not at_text or not _cell(row, "consent_evidence"):
            raise RowError("consent columns need consent_at and consent_evidence (the proof)")
        try:
            at = datetime.fromisoformat(at_text)
        except ValueError:
            try:
                at = datetime.combine(date.fromisoformat(at_text), time())
            except ValueError as exc:
                raise RowError(f"consent_at {at_text!r} is not a date as YYYY-MM-DD") from exc
        if at.tzinfo is not None:
            at = at.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
        method = _cell(row, "consent_method")
        text = _cell(row, "consent_evidence")
        evidence = (at, f"{method}: {text}" if method else text)
    return {"timezone": zone, "region": region, "consents": consents, "consent": evidence}


def _record_consents(session, debtor, values, now=None):
    for channel, action in values["consents"].items():
        at, evidence = values["consent"]
        try:
            consent.record(
                session, debtor, channel, action, at, "import", evidence, "import", now=now
            )
        except consent.ConsentError as exc:
            raise RowError(str(exc)) from exc


def _check_against_stored(session, values):
    """Refuse a row that contradicts what is stored: two people on one number (the bot would
    show one person's debt to the other), or an account changing currency."""
    debtor = session.execute(
        select(Debtor).where(Debtor.phone == values["phone"])
    ).scalar_one_or_none()
    if debtor is not None and not verification.secret_matches(debtor, values["id_last4"]):
        raise RowError(
            f"phone {phones.mask(values['phone'])} belongs to a debtor with a different ID; "
            "a number cannot be shared by two people"
        )
    account = session.execute(
        select(Account).where(Account.external_id == values["external_id"])
    ).scalar_one_or_none()
    if account is not None and account.currency != values["currency"]:
        raise RowError(
            f"currency of {values['external_id']} is {account.currency}; it cannot change to "
            f"{values['currency']} (import it under a new external_id)"
        )


def _upsert_debtor(session, values):
    debtor = session.execute(
        select(Debtor).where(Debtor.phone == values["phone"])
    ).scalar_one_or_none()
    fields = {
        "full_name": values["full_name"],
        "email": values["email"],
        "locale": values["locale"],
        "country": values["country"],
        "segment": values["segment"],
    }
    # The address's zone and region when the file gives them (the number's zones are always
    # checked beside them; a zone is never derived from the number).
    for name in ("timezone", "region"):
        if values.get(name):
            fields[name] = values[name]
    if debtor is None:
        salt = verification.new_salt()
        debtor = Debtor(
            phone=values["phone"],
            id_secret_salt=salt,
            id_secret_hash=verification.hash_secret(values["id_last4"], salt),
            **fields,
        )
        session.add(debtor)
        return debtor, True
    changed = False
    for name, value in fields.items():
        if getattr(debtor, name) != value:
            setattr(debtor, name, value)
            changed = True
    return debtor, changed


def _upsert_account(session, debtor, values):
    account = session.execute(
        select(Account).where(Account.external_id == values["external_id"])
    ).scalar_one_or_none()
    if account is None:
        account = Account(
            debtor=debtor,
            external_id=values["external_id"],
            currency=values["currency"],
            amount_due_minor=values["amount_minor"],
            balance_minor=values["amount_minor"],
            due_date=values["due_date"],
            segment=values["segment"],
        )
        session.add(account)
        audit.record(
            session,
            "import",
            "account.created",
            account,
            {"amount_due_minor": values["amount_minor"], "currency": values["currency"]},
        )
        # The amount due is the ledger's opening charge.
        entries.open_ledger(session, account, actor="import", memo="amount due")
        return "created"
    before = {
        "debtor_id": account.debtor_id,
        "currency": account.currency,
        "amount_due_minor": account.amount_due_minor,
        "due_date": account.due_date,
        "segment": account.segment,
    }
    account.debtor = debtor
    session.flush()
    after = {
        "debtor_id": debtor.id,
        "currency": values["currency"],
        "amount_due_minor": values["amount_minor"],
        "due_date": values["due_date"],
        "segment": values["segment"],
    }
    if before == after:
        return "unchanged"
    if before["amount_due_minor"] != after["amount_due_minor"]:
        # The creditor corrected the amount due: an adjustment entry, never a changed charge.
        balance = entries.balance_of(session, account)
        delta = after["amount_due_minor"] - before["amount_due_minor"]
        delta = max(delta, -balance.principal_minor)  # never below what is still owed
        entries.post(
            session,
            account,
            statuses.Entry.ADJUSTMENT,
            {statuses.Bucket.PRINCIPAL: delta},
            clock.today_for(debtor),
            "import",
            memo=f"amount due {before['amount_due_minor']} -> {after['amount_due_minor']}",
            balance=balance,
        )
    account.currency = values["currency"]
    account.amount_due_minor = values["amount_minor"]
    account.due_date = values["due_date"]
    account.segment = values["segment"]
    changes = {k: [str(before[k]), str(after[k])] for k in before if before[k] != after[k]}
    audit.record(session, "import", "account.updated", account, changes)
    return "updated"


def _lines(source):
    """Lines of a CSV source (a binary or text stream, bytes or str), decoded one at a time:
    bytes that are not UTF-8 become lone surrogates that _checked finds in their own row."""
    if isinstance(source, bytes | bytearray):
        source = io.BytesIO(source)
    elif isinstance(source, str):
        source = io.StringIO(source, newline="")
    first = True
    for raw in source:
        line = raw.decode("utf-8", "surrogateescape") if isinstance(raw, bytes) else raw
        if first:
            line, first = line.lstrip("\ufeff"), False
        yield line


def _rows(reader):
    """(line, row or RowError) for each row; a line csv cannot read (a NUL, a field over
    MAX_FIELD) is a RowError for that line and reading goes on."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            reason = str(exc)
            if "field larger" in reason:
                reason = f"a field is larger than {MAX_FIELD // 1024} KiB"
            elif "NUL" in reason:
                reason = "the line contains a NUL character"
            yield reader.reader.line_num, RowError(reason)
            continue
        yield reader.line_num, row


def _write(session, values):
    """Upsert one checked row; returns created / updated / unchanged."""
    _check_against_stored(session, values)
    # Every check has passed: the writes below cannot half-apply a row.
    debtor, debtor_changed = _upsert_debtor(session, values)
    outcome = _upsert_account(session, debtor, values)
    if values["consents"]:
        session.flush()
        _record_consents(session, debtor, values)
    return "updated" if outcome == "unchanged" and debtor_changed else outcome


def _flush(session, batch, report):
    """Write a batch in one commit; if the database refuses it, row by row."""
    done = []
    try:
        for line, values in batch:
            try:
                done.append(_write(session, values))
            except RowError as exc:
                report.errors.append((line, str(exc)))
        session.commit()
    except SQLAlchemyError:
        session.rollback()
        report.errors = [e for e in report.errors if e[0] not in {line for line, _ in batch}]
        done = []
        for line, values in batch:
            try:
                outcome = _write(session, values)
                session.commit()
                done.append(outcome)
            except RowError as exc:
                session.rollback()
                report.errors.append((line, str(exc)))
            except SQLAlchemyError as exc:
                session.rollback()
                report.errors.append((line, f"the database refused the row ({type(exc).__name__})"))
    for outcome in done:
        setattr(report, outcome, getattr(report, outcome) + 1)
    batch.clear()


def import_csv(session, stream):
    """Import debts from a CSV source: good rows are upserted, each bad one is reported by
    line, and one bad row never stops the others."""
    report = ImportReport()
    csv.field_size_limit(MAX_FIELD)
    reader = csv.DictReader(_lines(stream))
    try:
        fieldnames = reader.fieldnames or []
    except csv.Error as exc:
        report.errors.append((1, f"the header cannot be read: {exc}"))
        return report
    header = [h.strip() for h in fieldnames]
    if any("\udc80" <= ch <= "\udcff" for h in header for ch in h):
        report.errors.append((1, "file is not UTF-8 text"))
        return report
    absent = [name for name in REQUIRED if name not in header]
    if absent:
        report.errors.append((1, f"header lacks column(s): {', '.join(absent)}"))
        return report
    reader.fieldnames = header
    seen = {}
    batch = []
    for line, row in _rows(reader):
        try:
            if isinstance(row, RowError):
                raise row
            if None in row:
                raise RowError("row has more fields than the header")
            values = parse_row(row)
            if values["external_id"] in seen:
                raise RowError(
                    f"external_id {values['external_id']!r} already appears on line "
                    f"{seen[values['external_id']]}"
                )
            seen[values["external_id"]] = line
            if values["consent"] and values["consent"][0] > clock.utcnow():
                raise RowError("consent_at is in the future")
        except RowError as exc:
            report.errors.append((line, str(exc)))
            continue
        batch.append((line, values))
        if len(batch) >= BATCH:
            _flush(session, batch, report)
    _flush(session, batch, report)
    report.errors.sort()
    return report
