from sqlalchemy import select

from actions.balance import ActionTellBalance, ActionTellBreakdown, ActionTellCreditor
from bot.clock import utcnow
from bot.models import Account, Conversation, Portfolio
from tests.unit.actions.helpers import choices, run, sent, tracker


def verify(db, conversation):
    conversation.verified_at = utcnow()
    db.commit()


def test_a_disputed_debt_is_never_called_nothing_owed(db, conversation):
    verify(db, conversation)
    for account in db.execute(select(Account)).scalars():
        account.status = "disputed"
    db.commit()
    dispatcher, _events = run(ActionTellBalance(), tracker(conversation, intent="ask_balance"))
    [(template, variables)] = sent(dispatcher)
    assert template == "balance.paused" and variables["reference"]
    assert choices(dispatcher) == ["/partial_payment"]


def test_why_it_grew_tells_the_balance_with_what_it_is_made_of(db, conversation):
    verify(db, conversation)
    dispatcher, _events = run(
        ActionTellBreakdown(), tracker(conversation, intent="ask_amount_breakdown")
    )
    said = sent(dispatcher)
    # Overdue or not yet due, by when the suite runs (TEST_NOW); the breakdown either way.
    assert said[0][0] in ("balance.overdue", "balance.current")
    assert [t for t, _v in said[1:]] == ["balance.breakdown"]
    breakdown = said[1][1]
    assert breakdown["principal"] == breakdown["balance"] and breakdown["reference"]
    db.expire_all()
    assert not db.get(Conversation, conversation.id).needs_agent  # the ledger answers it


def test_which_company_names_the_creditor_only_once_verified(db, conversation, app):
    dispatcher, events = run(ActionTellCreditor(), tracker(conversation, intent="ask_creditor"))
    assert sent(dispatcher) == [("verify.ask", {})] and events
    verify(db, conversation)
    app.config["CREDITOR_NAME"] = "Financiera Andina"
    dispatcher, _events = run(ActionTellCreditor(), tracker(conversation, intent="ask_creditor"))
    assert sent(dispatcher) == [("creditor.name", {"creditor": "Financiera Andina"})]
    db.add(Portfolio(name="demo", creditor_name="Tienda Sol"))  # the demo debts' segment
    db.commit()
    dispatcher, _events = run(ActionTellCreditor(), tracker(conversation, intent="ask_creditor"))
    assert sent(dispatcher) == [("creditor.name", {"creditor": "Tienda Sol"})]


def test_without_a_creditor_name_a_person_answers(db, conversation, app):
    verify(db, conversation)
    app.config["CREDITOR_NAME"] = ""
    dispatcher, _events = run(ActionTellCreditor(), tracker(conversation, intent="ask_creditor"))
    assert sent(dispatcher)[0][0] in ("agent.handoff", "agent.handoff_later")
    db.expire_all()
    assert db.get(Conversation, conversation.id).agent_reason == "ask_creditor"
