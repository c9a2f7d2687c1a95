from bot.models import Portfolio
from bot.templates import voice


def test_the_portfolio_is_the_debts_segment_else_the_default(db, conversation):
    debtor = conversation.debtor
    assert voice.portfolio_of(debtor) == "demo" and voice.portfolio_of(None) == "default"
    assert voice.register_for(db, debtor) is None  # tú, the base texts
    db.add(Portfolio(name="default", register="vos"))
    db.commit()
    assert voice.register_for(db, debtor) == "vos"  # no row of its own: the default's
    db.add(Portfolio(name="demo", register="tu"))
    db.commit()
    assert voice.register_for(db, debtor) is None
    assert voice.registers(db) == {"default": "vos"}
