"""Documents after payments: a PDF receipt for each payment and a "paz y salvo" (the certificate
that the debt is settled) when nothing is owed any more.

Each document stores the facts it states and a signature over them (HMAC-SHA256 with
DOCUMENT_SECRET); its QR code holds a verification URL, /v/<id>.<tag>, whose page says only
whether the document is genuine: a changed id, tag or stored fact makes it "not genuine", and
the page never shows amounts or names. The PDF is sent as a WhatsApp media message through a
signed, expiring download link (Twilio fetches it), which the text carries too, so an SMS or a
template outside the 24-hour window still leads to the file; the pay page lists them all.
"""

import base64
import hashlib
import hmac
import json
import re
import secrets

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from bot import audit, clock, outbox, statuses
from bot.clock import utcnow
from bot.models import Account, Checkout, Document, Message, Payment
from bot.money import money_var
from bot.payments import media, notify, pdf
from bot.payments.reconcile import owed
from bot.templates import store as templates

RECEIPT, PAZ_Y_SALVO = "receipt", "paz_y_salvo"
KEY_ID = "1"
SALT = "document-download"
PDF = "application/pdf"
TEXTS = {
    "es": {
        RECEIPT: "Recibo de pago",
        PAZ_Y_SALVO: "Paz y salvo",
        "number": "Documento",
        "issued": "Fecha de emisión",
        "debtor": "Cliente",
        "account": "Obligación",
        "paid_on": "Fecha del pago",
        "method": "Medio de pago",
        "amount": "Valor pagado",
        "remaining": "Saldo a la fecha de emisión",
        "original": "Valor original",
        "settled_on": "Fecha de cancelación",
        "statement": "{creditor} certifica que {debtor} se encuentra a paz y salvo por todo "
        "concepto con respecto a la obligación {account}, cancelada en su totalidad el "
        "{settled_on}.",
        "verify": "Verifique este documento en:",
        "footer": "Documento generado electrónicamente por {creditor}. Su autenticidad se "
        "comprueba con el código QR; la página de verificación no muestra datos personales.",
        "creditor": "El acreedor",
    },
    "en": {
        RECEIPT: "Payment receipt",
        PAZ_Y_SALVO: "Certificate of settlement (paz y salvo)",
        "number": "Document",
        "issued": "Issued on",
        "debtor": "Customer",
        "account": "Account",
        "paid_on": "Payment date",
        "method": "Paid with",
        "amount": "Amount paid",
        "remaining": "Balance on the issue date",
        "original": "Original amount",
        "settled_on": "Settled on",
        "statement": "{creditor} certifies that {debtor} owes nothing on account {account}, "
        "paid in full on {settled_on}.",
        "verify": "Verify this document at:",
        "footer": "Document issued electronically by {creditor}. Its authenticity is checked "
        "with the QR code; the verification page shows no personal data.",
        "creditor": "The creditor",
    },
}
METHODS = {
    "es": {
        "stripe": "Tarjeta",
        "sandbox": "Pago de prueba",
        "mercadopago": "Mercado Pago",
        "receipt": "Transferencia (comprobante verificado)",
        "claim": "Pago confirmado por un asesor",
        "autodebit": "Débito automático",
    },
    "en": {
        "stripe": "Card",
        "sandbox": "Test payment",
        "mercadopago": "Mercado Pago",
        "receipt": "Transfer (receipt verified)",
        "claim": "Payment confirmed by an agent",
        "autodebit": "Automatic debit",
    },
}


def _lang(locale):
    lang = (locale or "es").split("-")[0]
    return lang if lang in TEXTS else "es"


def _key():
    return current_app.config["DOCUMENT_SECRET"].encode()


def tag_for(public_id, facts, key_id=KEY_ID):
    """The signature of a document's id and facts (22 characters of base64url)."""
    if key_id != KEY_ID:
        raise ValueError(f"unknown document key {key_id!r}")
    message = json.dumps({"id": public_id, "facts": facts}, sort_keys=True, separators=(",", ":"))
    digest = hmac.new(_key(), message.encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def verify_url(doc):
    return f"{current_app.config['PUBLIC_BASE_URL']}/v/{doc.public_id}.{doc.tag}"


def verify(session, token):
    """The genuine document a verification token (<id>.<tag>) names, else None."""
    match = re.fullmatch(r"([A-Za-z0-9_-]{8,32})\.([A-Za-z0-9_-]{10,64})", token or "")
    if match is None:
        return None
    doc = session.execute(
        select(Document).where(Document.public_id == match.group(1))
    ).scalar_one_or_none()
    if doc is None:
        return None
    try:
        expected = tag_for(doc.public_id, doc.facts, doc.key_id)
    except ValueError:
        return None
    if not (
        hmac.compare_digest(expected, match.group(2)) and hmac.compare_digest(expected, doc.tag)
    ):
        return None
    return doc


# -- download links -----------------------------------------------------------------------------


def _serializer():
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def filename(doc):
    prefix = "recibo" if doc.kind == RECEIPT else "paz-y-salvo"
    return f"{prefix}-{doc.number}.pdf"


def download_url(doc):
    """A signed link to the PDF, valid DOCUMENT_LINK_TTL_HOURS (nothing personal in it)."""
    token = _serializer().dumps(doc.public_id)
    base = current_app.config["PUBLIC_BASE_URL"]
    return f"{base}/documents/{token}/{filename(doc)}"


def from_download_token(session, token):
    """The document a download token names, or None when it is forged or expired."""
    max_age = current_app.config["DOCUMENT_LINK_TTL_HOURS"] * 3600
    try:
        public_id = _serializer().loads(token, max_age=max_age)
    except (BadSignature, SignatureExpired):
        return None
    return session.execute(
        select(Document).where(Document.public_id == public_id)
    ).scalar_one_or_none()


# -- issuing ------------------------------------------------------------------------------------


def _money(minor, currency, locale):
    return templates.format_money(money_var(minor, currency), templates.babel_locale(locale))


def _date(day, locale):
    return templates.format_value("date", day, templates.babel_locale(locale))


def _creditor(lang):
    return current_app.config["CREDITOR_NAME"] or TEXTS[lang]["creditor"]


def _method(session, payment, lang):
    kind = payment.provider
    if payment.checkout_id is not None:
        checkout = session.get(Checkout, payment.checkout_id)
        if checkout is not None and checkout.purpose == "autodebit":
            kind = "autodebit"
    return METHODS[lang].get(kind, kind)


def _issue(session, account, kind, dedupe_key, number, facts, payment=None):
    """Store the document (facts, signature, PDF) once per dedupe key; return it."""
    doc = session.execute(
        select(Document).where(Document.dedupe_key == dedupe_key)
    ).scalar_one_or_none()
    if doc is not None:
        return doc
    locale = account.debtor.locale or "es"
    lang = _lang(locale)
    public_id = secrets.token_urlsafe(12)
    doc = Document(
        public_id=public_id,
        kind=kind,
        dedupe_key=dedupe_key,
        number=number,
        account_id=account.id,
        payment_id=payment.id if payment is not None else None,
        locale=locale,
        facts=facts,
        key_id=KEY_ID,
        tag=tag_for(public_id, facts),
    )
    text = TEXTS[lang]
    rows = [(text[label], facts[field]) for label, field in _ROWS[kind] if facts.get(field)]
    statement = None
    if kind == PAZ_Y_SALVO:
        statement = text["statement"].format(**facts)
    data = pdf.render(
        title=text[kind],
        issuer=facts["creditor"],
        rows=rows,
        statement=statement,
        verify_url=verify_url(doc),
        verify_label=text["verify"],
        footer=text["footer"].format(creditor=facts["creditor"]),
    )
    doc.file_id = media.store(session, data, PDF).id
    session.add(doc)
    session.flush()
    audit.record(
        session, "system", "document.issued", account, {"document_id": doc.id, "kind": kind}
    )
    return doc


_ROWS = {
    RECEIPT: [
        ("number", "number"),
        ("issued", "issued_on"),
        ("debtor", "debtor"),
        ("account", "account"),
        ("paid_on", "paid_on"),
        ("method", "method"),
        ("amount", "amount"),
        ("remaining", "remaining"),
    ],
    PAZ_Y_SALVO: [
        ("number", "number"),
        ("issued", "issued_on"),
        ("debtor", "debtor"),
        ("account", "account"),
        ("original", "original"),
        ("settled_on", "settled_on"),
    ],
}


def receipt_for(session, payment):
    """The payment's receipt, issued on first use."""
    account = session.get(Account, payment.account_id)
    locale = account.debtor.locale or "es"
    lang = _lang(locale)
    today = clock.today_for(account.debtor)
    number = f"RC-{payment.id:06d}"
    facts = {
        "number": number,
        "issued_on": _date(today, locale),
        "creditor": _creditor(lang),
        "debtor": account.debtor.full_name,
        "account": account.external_id,
        "paid_on": _date(
            clock.local_date(payment.received_at, clock.debtor_zone(account.debtor)), locale
        ),
        "method": _method(session, payment, lang),
        "amount": _money(payment.amount_minor, payment.currency, locale),
        "remaining": _money(owed(session, account), account.currency, locale),
    }
    return _issue(session, account, RECEIPT, f"receipt:{payment.id}", number, facts, payment)


def settled(session, account):
    return account.status == statuses.Account.PAID and owed(session, account) == 0


def paz_y_salvo_for(session, account):
    """The account's paz y salvo, issued on first use; None while something is owed."""
    if not settled(session, account):
        return None
    locale = account.debtor.locale or "es"
    lang = _lang(locale)
    last = session.execute(
        select(Payment.received_at)
        .where(Payment.account_id == account.id)
        .order_by(Payment.received_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    zone = clock.debtor_zone(account.debtor)
    settled_on = clock.local_date(last or utcnow(), zone)
    number = f"PS-{account.id:06d}"
    facts = {
        "number": number,
        "issued_on": _date(clock.today_for(account.debtor), locale),
        "creditor": _creditor(lang),
        "debtor": account.debtor.full_name,
        "account": account.external_id,
        "original": _money(account.amount_due_minor, account.currency, locale),
        "settled_on": _date(settled_on, locale),
    }
    return _issue(session, account, PAZ_Y_SALVO, f"paz_y_salvo:{account.id}", number, facts)


# -- sending ------------------------------------------------------------------------------------


def on_payment(session, payment):
    """A hook receiver: issue and send the payment's documents once the payment is committed
    (a job: a PDF takes ~15 ms, which a provider's webhook need not wait for)."""
    outbox.later(session, "issue_documents", payment.id)


def issue_after_payment(session, payment):
    """The receipt of a payment, and the paz y salvo when it settled the account; each sent
    once (a retried job sends nothing twice)."""
    account = session.get(Account, payment.account_id)
    docs = [receipt_for(session, payment)]
    paz = paz_y_salvo_for(session, account)
    if paz is not None:
        docs.append(paz)
    for doc in docs:
        if doc.sent_at is None:
            send(session, doc, "receipt")
    return docs


def send(session, doc, purpose):
    """Queue the document to the debtor (a WhatsApp media message with its link); returns the
    message, or the refusing Decision (recorded)."""
    account = session.get(Account, doc.account_id)
    url = download_url(doc)
    hours = current_app.config["DOCUMENT_LINK_TTL_HOURS"]
    if doc.kind == RECEIPT:
        payment = session.get(Payment, doc.payment_id)
        key = "document.receipt"
        variables = {
            "amount": money_var(payment.amount_minor, payment.currency),
            "url": url,
            "hours": hours,
        }
    else:
        key = "document.paz_y_salvo"
        variables = {"reference": account.external_id, "url": url, "hours": hours}
    sent = notify.send_to_debtor(
        session, account.debtor, key, variables, purpose, media=[{"url": url, "content_type": PDF}]
    )
    if isinstance(sent, Message):
        doc.sent_at = utcnow()
        audit.record(
            session,
            "system",
            "document.sent",
            account,
            {"document_id": doc.id, "message_id": sent.id},
        )
    else:
        audit.record(
            session,
            "system",
            "document.not_sent",
            account,
            {"document_id": doc.id, "reason": getattr(sent, "reason", None)},
        )
    return sent


def for_account(session, account):
    """The account's documents, newest first (the pay page lists them)."""
    return (
        session.execute(
            select(Document).where(Document.account_id == account.id).order_by(Document.id.desc())
        )
        .scalars()
        .all()
    )


def send_on_request(session, account, what="all"):
    """The debtor asks for their documents in the chat ("mándame el paz y salvo"): send the
    latest receipt and/or the paz y salvo now (fresh links) and return what the bot says:
    [(template key, variables)].

    what: "receipt", "paz_y_salvo" or "all"."""
    said = []
    sent = 0
    if what in ("paz_y_salvo", "all"):
        paz = paz_y_salvo_for(session, account)
        if paz is not None:
            sent += isinstance(send(session, paz, "requested"), Message)
        elif what == "paz_y_salvo":
            remaining = owed(session, account)
            said.append(
                ("document.not_settled", {"amount": money_var(remaining, account.currency)})
            )
    if what in ("receipt", "all"):
        last = session.execute(
            select(Payment)
            .where(Payment.account_id == account.id)
            .order_by(Payment.received_at.desc(), Payment.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        if last is not None:
            sent += isinstance(send(session, receipt_for(session, last), "requested"), Message)
        elif what == "receipt":
            said.append(("document.none", {}))
    if sent:
        said.insert(0, ("document.sending", {}))
    elif not said:
        said.append(("document.none", {}))
    return said
