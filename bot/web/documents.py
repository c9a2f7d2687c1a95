"""The debtor's documents on the web: the PDF behind a signed, expiring link (what Twilio fetches
for a WhatsApp media message, and what the pay page links to), and the public verification page
a document's QR code opens, which says only whether the document is genuine."""

from flask import Blueprint, Response, render_template, request

from bot.db import session
from bot.models import StoredFile
from bot.payments import documents
from bot.templates import store as templates

bp = Blueprint("documents", __name__)
VERIFY_TEXTS = {
    "es": {
        "title": "Verificación de documentos",
        "genuine": "Documento auténtico",
        "genuine_detail": "{kind} {number}, emitido el {date}, fue expedido por nosotros y no "
        "ha sido modificado.",
        "not_genuine": "Documento no auténtico",
        "not_genuine_detail": "No pudimos verificar este documento: no lo expedimos nosotros o "
        "fue modificado.",
        "privacy": "Esta página no muestra datos personales ni valores.",
        "receipt": "El recibo de pago",
        "paz_y_salvo": "El paz y salvo",
        "expired_title": "Enlace vencido",
        "expired": "Este enlace ya no es válido. Descarga tus documentos desde tu página de pago "
        "o pídelos por WhatsApp.",
    },
    "en": {
        "title": "Document verification",
        "genuine": "Genuine document",
        "genuine_detail": "{kind} {number}, issued on {date}, was issued by us and has not been "
        "changed.",
        "not_genuine": "Not a genuine document",
        "not_genuine_detail": "We could not verify this document: we did not issue it, or it "
        "was changed.",
        "privacy": "This page shows no personal data or amounts.",
        "receipt": "Payment receipt",
        "paz_y_salvo": "Certificate of settlement",
        "expired_title": "Link expired",
        "expired": "This link is no longer valid. Download your documents from your payment "
        "page or ask for them on WhatsApp.",
    },
}


def _lang():
    return request.accept_languages.best_match(["es", "en"]) or "es"


@bp.after_request
def _private(response):
    response.headers.setdefault("X-Robots-Tag", "noindex")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


@bp.get("/documents/<token>/<name>")
def download(token, name):
    """The PDF itself (Twilio fetches it; the debtor downloads it)."""
    s = session()
    doc = documents.from_download_token(s, token)
    if doc is None or name != documents.filename(doc):
        t = VERIFY_TEXTS[_lang()]
        page = render_template(
            "doc_message.html", lang=_lang(), title=t["expired_title"], text=t["expired"]
        )
        return page, 404
    stored = s.get(StoredFile, doc.file_id)
    response = Response(stored.data, mimetype=documents.PDF)
    response.headers["Content-Disposition"] = f'inline; filename="{documents.filename(doc)}"'
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@bp.get("/v/<token>")
def verify(token):
    """Genuine or not: a changed id, signature or stored fact makes it "not genuine"."""
    lang = _lang()
    t = VERIFY_TEXTS[lang]
    doc = documents.verify(session(), token)
    if doc is None:
        return render_template("doc_verify.html", lang=lang, t=t, genuine=False), 404
    day = templates.format_value("date", doc.created_at.date(), templates.babel_locale(lang))
    detail = t["genuine_detail"].format(kind=t[doc.kind], number=doc.number, date=day)
    return render_template("doc_verify.html", lang=lang, t=t, genuine=True, detail=detail)
