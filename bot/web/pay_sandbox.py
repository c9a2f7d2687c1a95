"""The sandbox provider's checkout (demo mode, no Stripe key): a page with one "Pay" button that
posts a signed event to this app's own webhook, exactly as Stripe would."""

import logging

import requests
from flask import Blueprint, abort, current_app, render_template, url_for
from sqlalchemy import select

from bot.db import session
from bot.models import Account, Checkout
from bot.payments import links, providers
from bot.web.pay import Fmt, page_locale
from bot.web.pay_texts import texts

log = logging.getLogger(__name__)
bp = Blueprint("pay_sandbox", __name__, url_prefix="/pay")


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
    tag = page_locale(account)
    t = texts(tag.split("-")[0])
    return render_template(
        "pay_sandbox.html",
        t=t,
        lang=tag.split("-")[0],
        amount=Fmt(tag, row.currency).money(row.amount_minor),
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
