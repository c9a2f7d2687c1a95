"""The chat's actions for automatic payments: status and cancel, for a verified debtor."""

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.autodebit import ActionAutodebitStatus, ActionCancelAutodebit
from bot.conversations import verification
from bot.models import Account, AutodebitMandate
from tests.unit.actions.test_actions import run, templates_sent, tracker


def act(action, conversation):
    dispatcher = CollectingDispatcher()
    run(action.run(dispatcher, tracker(conversation, text="cancela el pago automatico"), {}))
    return templates_sent(dispatcher)


def test_status_and_cancel(db, conversation):
    assert act(ActionCancelAutodebit(), conversation) == [("verify.ask", {})]
    conversation.verified_at = verification.utcnow()
    account = db.execute(select(Account).where(Account.external_id == "DEMO-CO-001")).scalar_one()
    mandate = AutodebitMandate(account_id=account.id, provider="sandbox", status="active")
    db.add(mandate)
    db.commit()
    assert act(ActionAutodebitStatus(), conversation) == [("autodebit.none", {})]  # no plan left
    assert act(ActionCancelAutodebit(), conversation) == [("autodebit.cancelled", {})]
    db.refresh(mandate)
    assert (mandate.status, mandate.cancelled_by) == ("cancelled", f"debtor:{account.debtor_id}")
    assert act(ActionCancelAutodebit(), conversation) == [("autodebit.none", {})]
