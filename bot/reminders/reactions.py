"""How reminders react to what happens elsewhere (wired as hooks by bot.create_app): a payment
cancels the reminders it made pointless; a 63016 refusal falls back to SMS; an agent handing a
conversation back releases the reminders that waited for it."""

from sqlalchemy import select, update

from bot import audit, statuses
from bot.clock import utcnow
from bot.models import Account, Promise, ScheduledMessage
from bot.outbound.status import OUTSIDE_WINDOW
from bot.reminders.sending import outside_window, suppress


def on_payment(session, payment):
    """Cancel the reminders a payment made pointless.

    A settled account loses every pending reminder; otherwise the steps of installments now
    paid and of promises no longer pending go. The next installment's own steps stay planned,
    so the cadence moves on to it."""
    account = session.get(Account, payment.account_id)
    pending = (
        session.execute(
            select(ScheduledMessage).where(
                ScheduledMessage.account_id == payment.account_id,
                ScheduledMessage.status.in_(statuses.Reminder.WAITING),
            )
        )
        .scalars()
        .all()
    )
    settled = account is not None and account.status in statuses.Account.SETTLED
    paid_installments = {
        str(i.id)
        for plan in (account.plans if account is not None else [])
        for i in plan.installments
        if i.status == statuses.Installment.PAID
    }
    open_promises = {
        str(p.id)
        for p in session.execute(
            select(Promise).where(
                Promise.account_id == payment.account_id,
                Promise.status == statuses.Promise.PENDING,
            )
        ).scalars()
    }
    for sm in pending:
        kind, _, rest = sm.step.partition(":")
        ref = rest.split(":", 1)[0]
        if settled:
            suppress(session, sm, "account_paid", actor="system")
        elif kind == "installment" and ref in paid_installments:
            suppress(session, sm, "installment_paid", actor="system")
        elif kind == "promise" and ref not in open_promises:
            suppress(session, sm, "promise_settled", actor="system")


def on_delivery_failed(session, message, error_code):
    """A message Twilio refused with 63016: when a reminder sent it, SMS stands in (or it is
    suppressed); True when handled, so it does not go to the agents."""
    if error_code != OUTSIDE_WINDOW:
        return False
    return outside_window(session, message)


def on_conversation_released(session, conversation):
    """The agent is done: reminders deferred while the agent held the conversation are gated
    again at the next dispatch (the gate picks the next allowed moment)."""
    if conversation.debtor_id is None:
        return 0
    now = utcnow()
    ids = list(
        session.execute(
            select(ScheduledMessage.id).where(
                ScheduledMessage.debtor_id == conversation.debtor_id,
                ScheduledMessage.status == statuses.Reminder.DEFERRED,
                ScheduledMessage.reason == "agent_held",
            )
        ).scalars()
    )
    if ids:
        session.execute(
            update(ScheduledMessage)
            .where(ScheduledMessage.id.in_(ids))
            .values(due_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        audit.record(session, "system", "reminders.released", conversation, {"reminders": len(ids)})
    return len(ids)
