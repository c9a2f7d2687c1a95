"""The payment providers' side of the pay page: their signed webhooks, and the sandbox's own
checkout and card-saving pages (demo mode), which post signed events to those webhooks exactly
as Stripe would."""

import logging

import requests
from flask import abort, current_app, jsonify, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.db import session
from bot.models import Account, AutodebitMandate, Checkout
from bot.payments import autodebit, links, providers
from bot.payments import reconcile as payments
from bot.web.pay import _Fmt, _page_locale, bp
from bot.web.pay_extras import extra_texts
from bot.web.pay_texts import texts

log = logging.getLogger(__name__)


def _webhook_enabled(name):
    cfg = current_app.config
    if name not in providers.ADAPTERS:
        return False
    if name == "sandbox":
        return "sandbox" in (cfg["PAYMENT_PROVIDER"], cfg["AUTODEBIT_PROVIDER"])
    if name == "stripe":
        return bool(cfg["STRIPE_WEBHOOK_SECRET"])
    return bool(cfg["MERCADOPAGO_WEBHOOK_SECRET"])


@bp.post("/webhooks/<name>")
def provider_webhook(name):
    """A provider's event: verified, stored once by its id, reconciled; the thank-you after.
    A saved card (auto-debit set-up) activates its mandate instead."""
    if not _webhook_enabled(name):
        abort(404)
    provider = providers.get(name)
    s = session()
    try:
        # Mercado Pago names the payment in the query string and is read back from its API.
        event = provider.read_event(request.get_data(), request.headers, request.args)
        if event.kind == "setup_completed":
            outcome, payment = autodebit.on_setup_completed(s, name, event), None
        else:
            outcome, payment = payments.handle_event(s, name, event)
    except providers.BadSignature:
        return jsonify({"error": "signature does not verify"}), 403
    except providers.BadEvent as exc:
        s.rollback()
        return jsonify({"error": str(exc)}), 400
    except providers.ProviderUnavailable as exc:
        # Answered 503 so that the provider sends the notification again later.
        s.rollback()
        log.warning("%s event could not be read now: %s", name, exc)
        return jsonify({"error": "try again later"}), 503
    if payment is not None:
        payments.on_payment_applied(s, payment)
    try:
        # The thank-you is sent after the commit; a Redis outage then leaves it 'pending' for
        # the sweep, never a 500 that would make the provider redeliver a duplicate.
        s.commit()
    except IntegrityError:
        # Another event paid the same checkout at the same moment: the provider retries this
        # one, which then finds the payment and changes nothing.
        s.rollback()
        return jsonify({"outcome": "conflict"}), 409
    return jsonify({"outcome": outcome}), 200


# -- sandbox checkout (demo mode) ---------------------------------------------------------------


def _sandbox_checkout(ref):
    if current_app.config["PAYMENT_PROVIDER"] != "sandbox":
        abort(404)
    row = (
        session()
        .execute(
            select(Checkout).where(Checkout.provider == "sandbox", Checkout.provider_ref == ref)
        )
        .scalar_one_or_none()
    )
    if row is None:
        abort(404)
    return row


def _sandbox_view(row, done=False):
    account = session().get(Account, row.account_id)
    tag = _page_locale(account)
    t = texts(tag.split("-")[0])
    return render_template(
        "pay_sandbox.html",
        t=t,
        lang=tag.split("-")[0],
        amount=_Fmt(tag, row.currency).money(row.amount_minor),
        ref=row.provider_ref,
        done=done or row.status == "completed",
        back=links.payment_url(account) + "?paid=1",
    )


@bp.get("/sandbox/checkout/<ref>")
def sandbox_checkout(ref):
    return _sandbox_view(_sandbox_checkout(ref))


def post_webhook(url, payload, headers):
    """Deliver a signed event to a webhook over HTTP, as a provider would."""
    response = requests.post(
        url, data=payload, headers={**headers, "Content-Type": "application/json"}, timeout=10
    )
    return response.status_code


@bp.post("/sandbox/checkout/<ref>")
def sandbox_pay(ref):
    """The one-click payment: post a signed 'completed' event to this app's own webhook."""
    row = _sandbox_checkout(ref)
    if row.status != "completed":
        payload, headers = providers.get("sandbox").completed_event(row)
        session().commit()  # end the read transaction: the webhook writes on another request
        url = current_app.config["PUBLIC_BASE_URL"] + url_for(
            "pay.provider_webhook", name="sandbox"
        )
        status = post_webhook(url, payload, headers)
        if status != 200:
            log.error("sandbox webhook answered %s for checkout %s", status, row.id)
            abort(502)
        session().refresh(row)
    return _sandbox_view(row, done=True)


# -- sandbox card saving (demo mode auto-debit) --------------------------------------------------


def _sandbox_mandate(ref):
    if current_app.config["AUTODEBIT_PROVIDER"] != "sandbox":
        abort(404)
    mandate = (
        session()
        .execute(
            select(AutodebitMandate).where(
                AutodebitMandate.provider == "sandbox", AutodebitMandate.setup_ref == ref
            )
        )
        .scalar_one_or_none()
    )
    if mandate is None:
        abort(404)
    return mandate


def _sandbox_setup_view(mandate, done=False):
    account = session().get(Account, mandate.account_id)
    lang = _page_locale(account).split("-")[0]
    return render_template(
        "pay_sandbox_setup.html",
        t=texts(lang),
        tx=extra_texts(lang),
        lang=lang,
        ref=mandate.setup_ref,
        cards=providers.get("sandbox").CARDS,
        done=done or mandate.status != autodebit.PENDING,
        back=links.payment_url(account) + "?autodebit=1",
    )


@bp.get("/sandbox/setup/<ref>")
def sandbox_setup(ref):
    return _sandbox_setup_view(_sandbox_mandate(ref))


@bp.post("/sandbox/setup/<ref>")
def sandbox_save_card(ref):
    """Save a pretend card: post a signed setup-mode checkout.session.completed to the app's
    own webhook, as Stripe does when the debtor saves a card."""
    mandate = _sandbox_mandate(ref)
    outcome = request.form.get("card", "succeeds")
    if outcome not in providers.get("sandbox").CARDS:
        abort(400)
    if mandate.status == autodebit.PENDING:
        payload, headers = providers.get("sandbox").setup_completed_event(mandate, outcome)
        session().commit()
        url = current_app.config["PUBLIC_BASE_URL"] + url_for(
            "pay.provider_webhook", name="sandbox"
        )
        status = post_webhook(url, payload, headers)
        if status != 200:
            log.error("sandbox webhook answered %s for mandate %s", status, mandate.id)
            abort(502)
        session().refresh(mandate)
    return _sandbox_setup_view(mandate, done=True)
