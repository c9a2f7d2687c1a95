"""Telling the debtor about their payment: the thank-you with what remains, sent at once as a
receipt for their own action, through the one contact decision."""

from sqlalchemy import select

from bot import audit, channels
from bot.conversations.inbound import get_or_create_conversation
from bot.models import Account, Conversation, Message
from bot.money import money_var
from bot.outbound.compose import OutsideWindow, Refused, queue_outbound
from bot.payments.reconcile import owed


def debtor_conversation_or_none(session, debtor):
    """The conversation the debtor last wrote on, if any."""
    return session.execute(
        select(Conversation)
        .where(Conversation.debtor_id == debtor.id)
        .order_by(Conversation.last_inbound_at.desc().nullslast(), Conversation.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def debtor_conversation(session, debtor):
    """The conversation the debtor uses: the one they last wrote on, else a WhatsApp one."""
    row = debtor_conversation_or_none(session, debtor)
    if row is not None:
        return row
    return get_or_create_conversation(session, channels.WHATSAPP, debtor.phone)


def send_to_debtor(session, debtor, key, variables, purpose, channel=None, now=None, media=None):
    """Queue a message the bot starts for the debtor on channel (default: the conversation
    they use), when the contact decision allows it; outside WhatsApp's window without an
    approved template, by SMS where the debtor allows it. Returns the message, or the refusing
    Decision (audited). media goes only with a WhatsApp text (see queue_outbound)."""
    if channel is None:
        conversation = debtor_conversation(session, debtor)
    else:
        conversation = get_or_create_conversation(session, channel, debtor.phone)
    try:
        return queue_outbound(
            session, conversation, key, variables, purpose=purpose, now=now, media=media
        )
    except Refused as refused:
        decision, outside_window = refused.decision, isinstance(refused, OutsideWindow)
    if outside_window:
        sms = get_or_create_conversation(session, channels.SMS, debtor.phone)
        try:
            return queue_outbound(session, sms, key, variables, purpose=purpose, now=now)
        except Refused:
            pass
    audit.record(
        session,
        "system",
        "message.suppressed",
        conversation,
        {"template": key, "reason": decision.reason},
    )
    return decision


def send_thanks(session, payment):
    """A hook receiver: the thank-you with the amount and what remains (a receipt for the
    debtor's own action: sent at once, not while an agent holds the conversation)."""
    account = session.get(Account, payment.account_id)
    remaining = owed(session, account)
    variables = {"amount": money_var(payment.amount_minor, account.currency)}
    if remaining:
        key = "payment.thanks"
        variables["remaining"] = money_var(remaining, account.currency)
    else:
        key = "payment.thanks_paid"
    sent = send_to_debtor(session, account.debtor, key, variables, "receipt")
    if isinstance(sent, Message):
        audit.record(session, "system", "payment.thanked", payment, {"message_id": sent.id})
    elif sent is not None and sent.reason == "agent_held":
        # The agent holding the conversation sees the payment and speaks.
        audit.record(session, "system", "payment.thanks_held", payment, {"reason": "agent_held"})
