"""More of the pay page: other ways to pay (pay by reference, from the creditor's published
data), auto-debit (opt in with the schedule shown, cancel), and the debtor's documents
(receipts, paz y salvo) to download. Sections join the page through pay.PAGE_EXTRAS."""

import logging

from flask import current_app, redirect, request, url_for

from bot import clock
from bot.db import session
from bot.payments import autodebit, documents, providers, rails
from bot.web import pay

log = logging.getLogger(__name__)

TEXTS = {
    "es": {
        "rails_title": "Otras formas de pagar",
        "rails_intro": "También puedes pagar directamente a nuestra cuenta:",
        "rails_reference": "Referencia de pago: {reference}",
        "rails_where": "Dónde escribir la referencia: {where}.",
        "rails_receipt": "Cuando pagues, envíanos por WhatsApp la foto o el PDF del comprobante.",
        "rails_via": "Con el botón de pago también puedes usar: {names}.",
        "autodebit_title": "Pago automático",
        "autodebit_offer": "Cobramos cada cuota en su fecha con la tarjeta que guardes. "
        "Puedes cancelarlo aquí o por WhatsApp cuando quieras.",
        "autodebit_row": "Cuota {seq}: {amount} el {date}",
        "autodebit_consent": "Autorizo cobrar estas cuotas en sus fechas a la tarjeta que "
        "guarde ahora.",
        "autodebit_start": "Activar pago automático",
        "autodebit_active": "Pago automático activo con {card}. Próximo cobro: {amount} el {date}.",
        "autodebit_pending": "Estamos esperando la confirmación de tu tarjeta. Si no terminaste, "
        "puedes intentarlo de nuevo.",
        "autodebit_suspended": "No pudimos cobrar con tu tarjeta {card}. Paga la cuota con el "
        "botón de pago o activa el pago automático con otra tarjeta.",
        "autodebit_cancel": "Cancelar pago automático",
        "autodebit_returned": "Gracias: estamos confirmando tu tarjeta. Te escribiremos por "
        "WhatsApp.",
        "autodebit_cancelled": "Listo: cancelamos tu pago automático. No haremos más cobros.",
        "autodebit_needs_consent": "Marca la autorización para activar el pago automático.",
        "autodebit_unavailable": "El pago automático no está disponible para esta cuenta.",
        "autodebit_already": "Tu pago automático ya está activo.",
        "provider_down": "No pudimos abrir el pago en este momento. Inténtalo en unos minutos.",
        "documents_title": "Tus documentos",
        "document_receipt": "Recibo de pago {number}",
        "document_paz_y_salvo": "Paz y salvo {number}",
        "sandbox_setup_title": "Guardar tarjeta (sandbox)",
        "sandbox_setup_note": "Modo demostración: elige cómo se comportará la tarjeta.",
        "sandbox_card": "Tarjeta",
        "sandbox_cards": {
            "succeeds": "Visa •••• 4242 (los cobros funcionan)",
            "insufficient_funds": "Visa •••• 9995 (fondos insuficientes)",
            "authentication_required": "Visa •••• 3184 (el banco pide autenticación)",
            "expired_card": "Visa •••• 0069 (tarjeta vencida)",
        },
        "sandbox_save": "Guardar tarjeta",
        "sandbox_saved": "Tarjeta guardada. Vuelve a tu página de pago.",
    },
    "en": {
        "rails_title": "Other ways to pay",
        "rails_intro": "You can also pay straight into our account:",
        "rails_reference": "Payment reference: {reference}",
        "rails_where": "Where to write the reference: {where}.",
        "rails_receipt": "Once you have paid, send us a photo or PDF of the receipt on WhatsApp.",
        "rails_via": "The payment button also takes: {names}.",
        "autodebit_title": "Automatic payments",
        "autodebit_offer": "We charge each installment on its date to the card you save. You "
        "can cancel here or on WhatsApp at any time.",
        "autodebit_row": "Installment {seq}: {amount} on {date}",
        "autodebit_consent": "I authorise charging these installments on their dates to the "
        "card I save now.",
        "autodebit_start": "Turn on automatic payments",
        "autodebit_active": "Automatic payments are on with {card}. Next charge: {amount} on "
        "{date}.",
        "autodebit_pending": "We are waiting for your card to be confirmed. If you did not finish, "
        "you can try again.",
        "autodebit_suspended": "We could not charge your card {card}. Pay the installment with "
        "the payment button, or turn automatic payments on with another card.",
        "autodebit_cancel": "Cancel automatic payments",
        "autodebit_returned": "Thank you: we are confirming your card. We'll message you on "
        "WhatsApp.",
        "autodebit_cancelled": "Done: automatic payments are off. We will not charge you again.",
        "autodebit_needs_consent": "Tick the authorisation to turn on automatic payments.",
        "autodebit_unavailable": "Automatic payments are not available for this account.",
        "autodebit_already": "Automatic payments are already on.",
        "provider_down": "We couldn't open the payment right now. Please try again shortly.",
        "documents_title": "Your documents",
        "document_receipt": "Payment receipt {number}",
        "document_paz_y_salvo": "Certificate of settlement {number}",
        "sandbox_setup_title": "Save a card (sandbox)",
        "sandbox_setup_note": "Demo mode: choose how the card will behave.",
        "sandbox_card": "Card",
        "sandbox_cards": {
            "succeeds": "Visa •••• 4242 (charges work)",
            "insufficient_funds": "Visa •••• 9995 (insufficient funds)",
            "authentication_required": "Visa •••• 3184 (the bank asks for authentication)",
            "expired_card": "Visa •••• 0069 (expired card)",
        },
        "sandbox_save": "Save card",
        "sandbox_saved": "Card saved. Go back to your payment page.",
    },
}


def extra_texts(lang):
    return TEXTS.get(lang, TEXTS["es"])


def _rails(s, account, lang):
    methods = rails.usable(s, account.debtor.country)
    return {
        "rails": [
            {
                "name": method.name,
                "lines": rails.lines(method, lang),
                "where": rails.where(method, lang),
            }
            for method in methods
        ],
        "rails_reference": rails.payment_reference(account),
        "rails_via": rails.through_provider(s, account.debtor.country),
    }


def _autodebit(s, account, fmt):
    if autodebit.provider_name() is None:
        return None
    mandate = autodebit.latest(s, account)
    rows = [
        {"seq": i.seq, "date": fmt.date(i.due_date), "amount": fmt.money(left)}
        for i, left in autodebit.schedule(s, account)
    ]
    if mandate is not None and mandate.status == autodebit.ACTIVE:
        return {"state": "active", "card": autodebit.card_label(mandate), "rows": rows}
    if mandate is not None and mandate.status == autodebit.PENDING:
        return {"state": "pending", "rows": rows}
    if not autodebit.available(s, account):
        return None
    if mandate is not None and mandate.status == autodebit.SUSPENDED:
        return {"state": "suspended", "card": autodebit.card_label(mandate), "rows": rows}
    return {"state": "offer", "rows": rows}


def page_context(s, account, fmt, lang):
    tx = extra_texts(lang)
    context = {"tx": tx, "extra_notice": None, "autodebit": None}
    if request.args.get("autodebit") == "1":
        context["extra_notice"] = tx["autodebit_returned"]
    elif request.args.get("done") == "autodebit_cancelled":
        context["extra_notice"] = tx["autodebit_cancelled"]
    if account.status in ("open", "plan"):
        context.update(_rails(s, account, lang))
        context["autodebit"] = _autodebit(s, account, fmt)
    context["documents"] = [
        {
            "label": tx[f"document_{doc.kind}"].format(number=doc.number),
            "date": fmt.date(clock.local_date(doc.created_at, clock.debtor_zone(account.debtor))),
            "url": documents.download_url(doc),
        }
        for doc in documents.for_account(s, account)
    ]
    return context


pay.PAGE_EXTRAS.append(page_context)


def _lang(account):
    return pay._page_locale(account).split("-")[0]


@pay.bp.post("/<token>/autodebit")
def autodebit_start(token):
    """The debtor agrees to the schedule shown and goes to the provider's page to save a card."""
    account, invalid = pay._load(token)
    if invalid:
        return invalid
    tx = extra_texts(_lang(account))
    if request.form.get("consent") != "yes":
        return pay._view(account, error=tx["autodebit_needs_consent"], status=422)
    s = session()
    back = current_app.config["PUBLIC_BASE_URL"] + url_for("pay.page", token=token)
    try:
        url = autodebit.start(
            s, account, pay._actor(account), success_url=back + "?autodebit=1", cancel_url=back
        )
    except autodebit.AutodebitError as exc:
        s.rollback()
        key = "autodebit_already" if str(exc) == "already_active" else "autodebit_unavailable"
        return pay._view(account, error=tx[key], status=409)
    except providers.ProviderError as exc:
        s.rollback()
        log.warning("auto-debit set-up for account %s failed: %s", account.id, exc)
        return pay._view(account, error=tx["provider_down"], status=503)
    s.commit()
    return redirect(url, code=303)


@pay.bp.post("/<token>/autodebit/cancel")
def autodebit_cancel(token):
    account, invalid = pay._load(token)
    if invalid:
        return invalid
    s = session()
    autodebit.cancel(s, account, pay._actor(account))
    s.commit()
    return redirect(url_for("pay.page", token=token, done="autodebit_cancelled"), code=303)
