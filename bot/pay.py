"""The page a payment link opens. This slice verifies the link and shows what is owed; paying
online (providers, plans, history) is built on it by the payments issue."""

from flask import Blueprint, current_app, render_template

from .db import session
from .models import Account
from .money import money_var
from .services import links, templates

bp = Blueprint("pay", __name__, url_prefix="/pay")


def _whatsapp_number():
    sender = current_app.config["TWILIO_WHATSAPP_FROM"]
    return sender.split(":", 1)[-1].lstrip("+")


@bp.get("/<token>")
def page(token):
    try:
        account_id, debtor_id = links.read(token)
    except links.LinkInvalid:
        # Expired or tampered: say nothing about any debt, offer a fresh link on WhatsApp.
        return render_template("pay_invalid.html", whatsapp=_whatsapp_number()), 410
    account = session().get(Account, account_id)
    if account is None or account.debtor_id != debtor_id:
        return render_template("pay_invalid.html", whatsapp=_whatsapp_number()), 410
    locale = templates.babel_locale(account.debtor.locale)
    return render_template(
        "pay.html",
        lang=account.debtor.locale.split("-")[0],
        amount=templates.format_money(money_var(account.balance_minor, account.currency), locale),
        due_date=templates.format_value("date", account.due_date, locale),
        reference=account.external_id,
        whatsapp=_whatsapp_number(),
    )
