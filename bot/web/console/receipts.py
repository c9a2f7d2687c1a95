"""Payments to verify: receipts (photos, PDFs) debtors sent on WhatsApp. Any agent can open one,
see the file beside the debtor's debts, and confirm it (the payment is applied) or reject it."""

from datetime import date

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from bot import clock
from bot.db import session as db_session
from bot.debts import receipt_review
from bot.debts.resolutions import MAX_ID
from bot.models import Account, PaymentReceipt, StoredFile
from bot.money import money_var, to_decimal
from bot.payments import rails, receipts
from bot.phones import mask
from bot.templates import store as templates
from bot.web.console.auth import current_user, login_required

bp = Blueprint("receipts", __name__, url_prefix="/console/receipts")
PROBLEMS = {
    "unsupported_type": "Not a photo (JPG, PNG, WebP) or a PDF",
    "too_large": "Larger than the size limit",
    "fetch_failed": "Could not be downloaded from Twilio",
    "media_not_found": "Twilio no longer has the file",
    "not_twilio_media": "Not a Twilio media URL",
}


def _receipt(receipt_id):
    if receipt_id > MAX_ID:
        abort(404)
    receipt = db_session().get(PaymentReceipt, receipt_id)
    if receipt is None:
        abort(404)
    return receipt


def _item(receipt):
    conversation = receipt.conversation
    return {
        "id": receipt.id,
        "at": receipt.created_at.strftime("%Y-%m-%d %H:%M"),
        "debtor": receipt.debtor.full_name if receipt.debtor else "Unknown number",
        "address": mask(conversation.address),
        "type": receipt.content_type or "?",
        "status": receipt.status,
        "problem": PROBLEMS.get(receipt.problem or "", receipt.problem),
        "url": url_for("receipts.show", receipt_id=receipt.id),
    }


@bp.get("/")
@login_required()
def index():
    s = db_session()
    waiting = (
        s.execute(
            select(PaymentReceipt)
            .where(PaymentReceipt.status.in_((receipts.PENDING, receipts.UNUSABLE)))
            .order_by(PaymentReceipt.id)
            .limit(200)
        )
        .scalars()
        .all()
    )
    decided = (
        s.execute(
            select(PaymentReceipt)
            .where(PaymentReceipt.status.in_((receipts.CONFIRMED, receipts.REJECTED)))
            .order_by(PaymentReceipt.resolved_at.desc())
            .limit(50)
        )
        .scalars()
        .all()
    )
    return render_template(
        "console/receipts.html",
        user=current_user(),
        waiting=[_item(r) for r in waiting],
        decided=[_item(r) for r in decided],
    )


def _accounts(s, receipt):
    if receipt.debtor_id is None:
        return []
    rows = s.execute(
        select(Account).where(Account.debtor_id == receipt.debtor_id).order_by(Account.due_date)
    ).scalars()
    locale = templates.babel_locale(receipt.debtor.locale)

    def money(a):
        return templates.format_money(money_var(a.balance_minor, a.currency), locale)

    return [
        {
            "id": a.id,
            "label": f"{a.external_id} · {money(a)} · {a.status}",
            "reference": rails.payment_reference(a),
        }
        for a in rows
    ]


@bp.get("/<int:receipt_id>")
@login_required()
def show(receipt_id):
    s = db_session()
    receipt = _receipt(receipt_id)
    suggested = s.get(Account, receipt.account_id) if receipt.account_id else None
    amount = ""
    if receipt.amount_minor is not None and receipt.currency:
        amount = str(to_decimal(receipt.amount_minor, receipt.currency))
    return render_template(
        "console/receipt.html",
        user=current_user(),
        r=_item(receipt),
        receipt=receipt,
        accounts=_accounts(s, receipt),
        suggested=suggested,
        amount=amount,
        today=clock.today_for(receipt.debtor).isoformat(),
        file_url=url_for("receipts.file", receipt_id=receipt.id) if receipt.file_id else None,
        is_image=(receipt.content_type or "").startswith("image/"),
        conversation_url=url_for("agent.conversation", conversation_id=receipt.conversation_id),
    )


@bp.get("/<int:receipt_id>/file")
@login_required()
def file(receipt_id):
    receipt = _receipt(receipt_id)
    if receipt.file_id is None:
        abort(404)
    stored = db_session().get(StoredFile, receipt.file_id)
    extension = {"application/pdf": "pdf", "image/png": "png", "image/webp": "webp"}.get(
        stored.content_type, "jpg"
    )
    response = Response(stored.data, mimetype=stored.content_type)
    response.headers["Content-Disposition"] = f'inline; filename="receipt-{receipt.id}.{extension}"'
    # The debtor chose these bytes: never let them run as a page of the console.
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


def _back(receipt):
    return redirect(url_for("receipts.show", receipt_id=receipt.id)), 303


@bp.post("/<int:receipt_id>/confirm")
@login_required()
def confirm(receipt_id):
    s = db_session()
    receipt = _receipt(receipt_id)
    form = request.form
    try:
        paid_on = date.fromisoformat(form.get("paid_on", ""))
    except ValueError:
        paid_on = None
    try:
        receipt_review.confirm(
            s,
            receipt,
            current_user(),
            form.get("account", ""),
            form.get("amount", ""),
            paid_on,
            form.get("method", ""),
        )
    except receipt_review.ReviewError as exc:
        s.rollback()
        flash(str(exc), "error")
        return _back(receipt)
    s.commit()
    flash("Receipt confirmed: the payment is applied and the debtor is thanked.", "info")
    return _back(receipt)


@bp.post("/<int:receipt_id>/reject")
@login_required()
def reject(receipt_id):
    s = db_session()
    receipt = _receipt(receipt_id)
    try:
        receipt_review.reject(s, receipt, current_user(), request.form.get("reason", ""))
    except receipt_review.ReviewError as exc:
        s.rollback()
        flash(str(exc), "error")
        return _back(receipt)
    s.commit()
    flash("Receipt rejected.", "info")
    return _back(receipt)
