"""Agent actions on what the debtor said about being contacted: confirm or dismiss a new number
or a call-back they asked for, and undo a wrong-number mark (all audited)."""

from flask import Blueprint, abort

from bot.contact import preferences
from bot.conversations import contact_requests, handover
from bot.users import actor
from bot.web.console.agent import _act
from bot.web.console.auth import login_required

bp = Blueprint("contacts", __name__, url_prefix="/console")


@bp.post("/conversations/<int:conversation_id>/contact-requests/<int:request_id>/<decision>")
@login_required()
def contact_request_decision(conversation_id, request_id, decision):
    if decision not in ("confirm", "dismiss"):
        abort(404)

    def work(s, conversation, user):
        try:
            contact_requests.decide(
                s, request_id, conversation.id, actor(user), decision == "confirm"
            )
        except contact_requests.ContactRequestError as exc:
            raise handover.HandoverError(str(exc)) from None

    done = "Request confirmed." if decision == "confirm" else "Request dismissed."
    return _act(conversation_id, work, done)


@bp.post("/conversations/<int:conversation_id>/wrong-number/undo")
@login_required()
def undo_wrong_number(conversation_id):
    """The number is the debtor's after all: reminders and the bot may reach it again."""

    def work(s, conversation, user):
        debtor = conversation.debtor
        if debtor is None or not preferences.clear_wrong_number(s, debtor, actor(user), "agent"):
            raise handover.HandoverError("This number is not marked as a wrong number.")

    return _act(conversation_id, work, "The wrong-number mark was removed.")
