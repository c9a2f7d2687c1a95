"""The agent console: the queue, a conversation, replies, actions, hand-back."""

import logging
from datetime import date

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot import channels, clock
from bot.clock import utcnow
from bot.contact.window import window_open
from bot.conversations import agents, contact_requests, handover, verification
from bot.db import session as db_session
from bot.debts import parsing, resolutions
from bot.ledger import breakdown
from bot.models import (
    Account,
    Conversation,
    ConversationNote,
    Dispute,
    Message,
    Payment,
    PaymentClaim,
    PaymentReceipt,
    Promise,
    Settlement,
)
from bot.money import money_var
from bot.templates import store as templates
from bot.web.console import i18n
from bot.web.console.auth import current_user, login_required

bp = Blueprint("agent", __name__, url_prefix="/console")
log = logging.getLogger(__name__)


def _conversation(conversation_id):
    if conversation_id > resolutions.MAX_ID:
        abort(404)
    conversation = db_session().get(Conversation, conversation_id)
    if conversation is None:
        abort(404)
    return conversation


def _waiting_seconds(conversation, now):
    if conversation.escalated_at is None:
        return 0
    return int((now - conversation.escalated_at).total_seconds())


def _queue_item(conversation, now):
    debtor = conversation.debtor
    return {
        "id": conversation.id,
        "debtor": debtor.full_name if debtor else _("Unknown number"),
        "address": channels.mask_address(conversation.channel, conversation.address),
        "channel": conversation.channel,
        "reason": conversation.agent_reason,
        "reason_label": i18n.reason(conversation.agent_reason),
        "priority": handover.priority(conversation.agent_reason),
        "waiting_seconds": _waiting_seconds(conversation, now),
        "state": conversation.state,
        "agent": conversation.agent.email if conversation.agent else None,
        "url": url_for("agent.conversation", conversation_id=conversation.id),
    }


@bp.get("/")
@login_required()
def queue():
    now = utcnow()
    items = [_queue_item(c, now) for c in handover.queue(db_session())]
    on_shift, opens = agents.availability(_config())
    return render_template(
        "console/queue.html", items=items, user=current_user(), on_shift=on_shift, opens=opens
    )


@bp.get("/api/queue")
@login_required()
def queue_json():
    now = utcnow()
    return jsonify({"items": [_queue_item(c, now) for c in handover.queue(db_session())]})


def _config():
    from flask import current_app

    return current_app.config


def _message_item(message):
    return {
        "id": message.id,
        "direction": message.direction,
        "body": message.body or "",
        "subject": message.subject,  # e-mail
        "button_payload": message.button_payload,
        "status": message.status,
        "status_label": i18n.state(message.status),
        "error_code": message.error_code,
        "author": message.author.email if message.author else None,
        "at": i18n.when(message.created_at, "medium"),
        # What was attached (a receipt photo, a voice note): its type; the file stays at Twilio.
        "media": [m.get("content_type") or "file" for m in message.media or []],
    }


def _messages(s, conversation):
    stmt = select(Message).where(Message.conversation_id == conversation.id).order_by(Message.id)
    return s.execute(stmt).scalars().all()


def _context(s, conversation):
    """What the agent needs to know about the debtor behind the conversation."""
    debtor = conversation.debtor
    if debtor is None:
        return None
    accounts = (
        s.execute(select(Account).where(Account.debtor_id == debtor.id).order_by(Account.due_date))
        .scalars()
        .all()
    )
    ids = [a.id for a in accounts] or [0]
    locale = templates.babel_locale(debtor.locale)

    def money(minor, currency):
        return templates.format_money(money_var(minor, currency), locale)

    settlements = {}
    for row in s.execute(
        select(Settlement).where(Settlement.account_id.in_(ids)).order_by(Settlement.id.desc())
    ).scalars():
        settlements.setdefault(row.account_id, []).append(row)
    return {
        "debtor": debtor,
        "breakdowns": {a.id: breakdown.totals(s, a) for a in accounts},
        "settlements": settlements,
        "verified": verification.is_verified(conversation),
        "locked_minutes": verification.minutes_locked(conversation),
        "accounts": accounts,
        "money": money,
        "promises": s.execute(
            select(Promise).where(Promise.account_id.in_(ids)).order_by(Promise.id.desc())
        )
        .scalars()
        .all(),
        "payments": s.execute(
            select(Payment).where(Payment.account_id.in_(ids)).order_by(Payment.id.desc())
        )
        .scalars()
        .all(),
        "disputes": s.execute(
            select(Dispute).where(Dispute.account_id.in_(ids)).order_by(Dispute.id.desc())
        )
        .scalars()
        .all(),
        "claims": s.execute(
            select(PaymentClaim)
            .where(PaymentClaim.account_id.in_(ids))
            .order_by(PaymentClaim.id.desc())
        )
        .scalars()
        .all(),
        "receipts": s.execute(
            select(PaymentReceipt)
            .where(PaymentReceipt.debtor_id == debtor.id)
            .order_by(PaymentReceipt.id.desc())
        )
        .scalars()
        .all(),
    }


@bp.get("/conversations/<int:conversation_id>")
@login_required()
def conversation(conversation_id):
    s = db_session()
    conv = _conversation(conversation_id)
    user = current_user()
    notes = (
        s.execute(
            select(ConversationNote)
            .where(ConversationNote.conversation_id == conv.id)
            .order_by(ConversationNote.id)
        )
        .scalars()
        .all()
    )
    return render_template(
        "console/conversation.html",
        conv=conv,
        user=user,
        holder=conv.state == "agent" and conv.agent_id == user.id,
        window_open=window_open(conv),
        template_keys=handover.agent_template_keys(s, conv),
        masked=channels.mask_address(conv.channel, conv.address),
        messages=[_message_item(m) for m in _messages(s, conv)],
        notes=notes,
        ctx=_context(s, conv),
        contact_requests=contact_requests.pending(s, conv.id),
        reason_label=handover.reason_label(conv.agent_reason),
        today=_today(conv).isoformat(),
    )


def _today(conv):
    """The debtor's date (promises are dated in it); the agents' own without a debtor."""
    if conv.debtor is not None:
        return clock.today_for(conv.debtor)
    return clock.today_in(current_app.config["AGENT_TIMEZONE"])


@bp.get("/api/conversations/<int:conversation_id>")
@login_required()
def conversation_json(conversation_id):
    s = db_session()
    conv = _conversation(conversation_id)
    return jsonify(
        {
            "state": conv.state,
            "agent": conv.agent.email if conv.agent else None,
            "window_open": window_open(conv),
            "messages": [_message_item(m) for m in _messages(s, conv)],
        }
    )


def _back(conv):
    return redirect(url_for("agent.conversation", conversation_id=conv.id))


@bp.post("/conversations/<int:conversation_id>/claim")
@login_required()
def claim(conversation_id):
    s = db_session()
    conv = _conversation(conversation_id)
    if not handover.claim(s, conv.id, current_user()):
        s.rollback()
        flash(_("Another agent has already claimed this conversation."), "error")
        return _back(conv), 303
    s.commit()  # Rasa is paused on it once committed (handover.claim asked for the sync)
    flash(_("Claimed: the bot is paused on this conversation."), "info")
    return _back(conv), 303


def _act(conversation_id, work, done_message):
    """Run an agent action on a conversation the agent holds (the one holder check for every
    action); errors become a message, not a 500. What the action queued (a reply, a
    thank-you, a Rasa sync) goes once committed."""
    s = db_session()
    conv = _conversation(conversation_id)
    try:
        handover.require_holder(conv, current_user())
        work(s, conv, current_user())
        s.commit()
    except handover.AlreadyDone as exc:
        s.rollback()
        flash(i18n.domain_text(exc), "info")
        return _back(conv), 303
    except handover.HandoverError as exc:
        s.rollback()
        flash(i18n.domain_text(exc), "error")
        return _back(conv), 303
    except templates.TemplateError as exc:
        s.rollback()
        flash(_("The message could not be written: %(why)s", why=exc), "error")
        return _back(conv), 303
    except IntegrityError:
        # Another request did the same at the same instant (a double click): it stands.
        s.rollback()
        flash(_("That was just done from another click or by another agent; see below."), "info")
        return _back(conv), 303
    if done_message:
        flash(done_message, "info")
    return _back(conv), 303


@bp.post("/conversations/<int:conversation_id>/reply")
@login_required()
def reply(conversation_id):
    text = request.form.get("text", "")
    return _act(
        conversation_id, lambda s, c, u: handover.agent_reply(s, c, u, text), _("Reply queued.")
    )


@bp.post("/conversations/<int:conversation_id>/template")
@login_required()
def send_template(conversation_id):
    key = request.form.get("key", "")

    def work(s, c, u):
        if key not in handover.agent_template_keys(s, c):
            raise handover.HandoverError(_("Pick one of the listed templates."))
        return handover.agent_template(s, c, u, key, handover.default_variables(s, c))

    return _act(conversation_id, work, _("Template queued."))


@bp.post("/conversations/<int:conversation_id>/note")
@login_required()
def note(conversation_id):
    text = request.form.get("text", "")
    return _act(conversation_id, lambda s, c, u: handover.add_note(s, c, u, text), None)


@bp.post("/conversations/<int:conversation_id>/payment-link")
@login_required()
def payment_link(conversation_id):
    account_id = request.form.get("account_id", "")
    return _act(
        conversation_id,
        lambda s, c, u: resolutions.send_payment_link(s, c, u, account_id),
        _("Payment link queued."),
    )


def _date(field):
    try:
        return date.fromisoformat(request.form.get(field, ""))
    except ValueError:
        raise handover.HandoverError(_("Give the date as YYYY-MM-DD.")) from None


def _int(field):
    value = request.form.get(field, "").strip()
    if not (value.isascii() and value.isdigit() and len(value) <= 6):
        raise handover.HandoverError(
            _("%(field)s must be a number.", field=field.replace("_", " ").capitalize())
        )
    return int(value)


def _amount(field, account_id, required=False):
    """An amount typed in the account's currency ("150000", "150.000,50", "150 mil")."""
    text = request.form.get(field, "").strip()
    if not text and not required:
        return None
    account = db_session().get(Account, resolutions.parse_id(account_id) or 0)
    amount = parsing.parse_amount(text, account.currency) if account is not None else None
    if amount is None:
        raise handover.HandoverError(_("Amount: give an amount."))
    return amount


@bp.post("/conversations/<int:conversation_id>/promise")
@login_required()
def promise(conversation_id):
    form = request.form
    return _act(
        conversation_id,
        lambda s, c, u: resolutions.record_promise(
            s,
            c,
            u,
            form.get("account_id", ""),
            _date("date"),
            form.get("override_reason", ""),
            _amount("amount", form.get("account_id", "")),
        ),
        _("Promise recorded."),
    )


@bp.post("/conversations/<int:conversation_id>/settlement")
@login_required()
def settlement(conversation_id):
    form = request.form
    return _act(
        conversation_id,
        lambda s, c, u: resolutions.agree_settlement(
            s,
            c,
            u,
            form.get("account_id", ""),
            _amount("amount", form.get("account_id", ""), required=True),
            _date("pay_by"),
            form.get("override_reason", ""),
        ),
        _("Settlement agreed."),
    )


@bp.post("/conversations/<int:conversation_id>/plan")
@login_required()
def plan(conversation_id):
    form = request.form
    return _act(
        conversation_id,
        lambda s, c, u: resolutions.create_plan(
            s,
            c,
            u,
            form.get("account_id", ""),
            _int("installments"),
            form.get("override_reason", ""),
        ),
        _("Plan created."),
    )


@bp.post("/conversations/<int:conversation_id>/claims/<int:claim_id>/<decision>")
@login_required()
def claim_decision(conversation_id, claim_id, decision):
    if decision not in ("confirm", "reject"):
        abort(404)
    resolve = resolutions.confirm_claim if decision == "confirm" else resolutions.reject_claim
    return _act(
        conversation_id,
        lambda s, c, u: resolve(s, c, u, claim_id),
        _("Claim confirmed.") if decision == "confirm" else _("Claim rejected."),
    )


@bp.post("/conversations/<int:conversation_id>/disputes/<int:dispute_id>/<decision>")
@login_required()
def dispute_decision(conversation_id, dispute_id, decision):
    if decision not in ("uphold", "reject"):
        abort(404)
    return _act(
        conversation_id,
        lambda s, c, u: resolutions.resolve_dispute(s, c, u, dispute_id, decision == "uphold"),
        _("Dispute upheld.") if decision == "uphold" else _("Dispute rejected."),
    )


@bp.post("/conversations/<int:conversation_id>/hand-back")
@login_required()
def hand_back(conversation_id):
    return _act(conversation_id, handover.hand_back, _("Handed back to the bot."))


@bp.post("/conversations/<int:conversation_id>/release")
@login_required()
def release(conversation_id):
    return _act(conversation_id, handover.release, _("Returned to the queue."))


@bp.post("/conversations/<int:conversation_id>/take-over")
@login_required(role="admin")
def take_over(conversation_id):
    s = db_session()
    conv = _conversation(conversation_id)
    try:
        handover.take_over(s, conv.id, current_user(), request.form.get("reason", ""))
    except handover.HandoverError as exc:
        s.rollback()
        flash(i18n.domain_text(exc), "error")
        return _back(conv), 303
    s.commit()
    flash(_("You hold this conversation now."), "info")
    return _back(conv), 303


@bp.post("/conversations/<int:conversation_id>/close")
@login_required()
def close(conversation_id):
    reason = request.form.get("reason", "resolved")
    return _act(
        conversation_id,
        lambda s, c, u: handover.close(s, c, u, reason),
        _("Conversation closed."),
    )
