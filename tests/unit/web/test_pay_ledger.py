"""The pay page's ledger parts: the breakdown, a partial payment, a settlement."""

from sqlalchemy import select

from bot import clock
from bot.debts import policies
from bot.ledger import entries
from bot.models import Account, AuditEvent, Checkout, Promise, Settlement
from bot.payments import links


def token_for(app, db, amount_minor=None):
    row = db.execute(select(Account).where(Account.external_id == "DEMO-CO-001")).scalar_one()
    with app.test_request_context():
        return row, links.payment_url(row, amount_minor=amount_minor).rsplit("/", 1)[1]


def test_the_page_shows_what_the_balance_is_made_of(app, client, db, demo_debtors):
    account, token = token_for(app, db)
    assert 'id="breakdown"' not in client.get(f"/pay/{token}").get_data(as_text=True)
    today = clock.today_for(account.debtor)
    entries.post(db, account, "interest", {"interest": 123_400}, today, "test", key="i1")
    entries.post(db, account, "fee", {"fee": 500_000}, today, "test", key="f1")
    policies.get(db, "default").interest_rate_bps = 2450
    db.commit()
    text = client.get(f"/pay/{token}").get_data(as_text=True)
    assert 'id="breakdown"' in text and "Intereses de mora" in text and "$1.234" in text
    assert "Cargos por mora" in text and "$5.000" in text and "24,5 % anual" in text
    assert "Pagar todo: $156.234" in text


def test_a_partial_payment_of_the_amount_named(app, client, db, demo_debtors):
    policies.get(db, "default").min_partial_minor = 2_000_000
    db.commit()
    account, token = token_for(app, db)
    page = client.get(f"/pay/{token}").get_data(as_text=True)
    assert "mínimo $20.000" in page
    small = client.post(f"/pay/{token}/checkout", data={"option": "partial", "amount": "10 mil"})
    assert small.status_code == 422 and "El abono mínimo es de $20.000" in small.get_data(
        as_text=True
    )
    response = client.post(f"/pay/{token}/checkout", data={"option": "partial", "amount": "50.000"})
    assert response.status_code == 303 and "/pay/sandbox/checkout/" in response.location
    checkout = db.execute(select(Checkout)).scalar_one()
    assert (checkout.purpose, checkout.amount_minor) == ("partial", 5_000_000)
    # More than is owed: a checkout for what is owed, never more.
    client.post(f"/pay/{token}/checkout", data={"option": "partial", "amount": "900000"})
    last = db.execute(select(Checkout).order_by(Checkout.id.desc())).scalars().first()
    assert last.amount_minor == 15_000_000


def test_a_link_for_an_amount_fills_the_field(app, client, db, demo_debtors):
    _, token = token_for(app, db, amount_minor=3_000_050)
    text = client.get(f"/pay/{token}").get_data(as_text=True)
    assert 'value="30000.50"' in text


def test_a_promise_for_part_of_the_balance(app, client, db, demo_debtors):
    account, token = token_for(app, db)
    day = clock.today_for(account.debtor).isoformat()
    response = client.post(f"/pay/{token}/promise", data={"date": day, "amount": "40000"})
    assert response.status_code == 303
    assert db.execute(select(Promise)).scalar_one().amount_minor == 4_000_000


def settlement_policy(db):
    row = policies.get(db, "default")
    row.settlement_offer_pct, row.settlement_min_pct, row.settlement_valid_days = 80, 60, 7
    db.commit()


def test_accepting_the_settlement_offered(app, client, db, demo_debtors):
    settlement_policy(db)
    account, token = token_for(app, db)
    text = client.get(f"/pay/{token}").get_data(as_text=True)
    assert "Paga $120.000 (80 % de tu saldo)" in text and "te condonamos $30.000" in text
    response = client.post(f"/pay/{token}/checkout", data={"option": "settlement"})
    assert response.status_code == 303
    row = db.execute(select(Settlement)).scalar_one()
    assert (row.amount_minor, row.pct, row.created_by) == (
        12_000_000,
        80,
        f"debtor:{account.debtor_id}",
    )
    checkout = db.execute(select(Checkout)).scalar_one()
    assert (checkout.purpose, checkout.amount_minor) == ("settlement", 12_000_000)
    # The page now shows the agreement and pays what remains of it.
    text = client.get(f"/pay/{token}").get_data(as_text=True)
    assert "Tu acuerdo: paga $120.000" in text
    assert db.execute(select(AuditEvent).where(AuditEvent.action == "settlement.agreed")).first()


def test_the_debtor_proposes_an_amount_and_gets_the_lowest_when_too_low(
    app, client, db, demo_debtors
):
    settlement_policy(db)
    _, token = token_for(app, db)
    low = client.post(
        f"/pay/{token}/checkout", data={"option": "settlement", "settle_amount": "50000"}
    )
    assert low.status_code == 422
    assert "Lo mínimo que podemos aceptar es $90.000 (60 %" in low.get_data(as_text=True)
    assert db.execute(select(Settlement)).first() is None
    ok = client.post(
        f"/pay/{token}/checkout", data={"option": "settlement", "settle_amount": "95000"}
    )
    assert ok.status_code == 303
    assert db.execute(select(Settlement)).scalar_one().amount_minor == 9_500_000


def test_no_settlement_where_the_policy_has_none(app, client, db, demo_debtors):
    _, token = token_for(app, db)
    assert 'id="settlement"' not in client.get(f"/pay/{token}").get_data(as_text=True)
    refused = client.post(f"/pay/{token}/checkout", data={"option": "settlement"})
    assert refused.status_code == 409


def test_an_account_under_review_takes_only_a_partial_payment(app, client, db, demo_debtors):
    """A disputed debt: the part the debtor recognises can be paid from the chat's link; the
    full balance, a settlement or a plan cannot."""
    account, token = token_for(app, db, amount_minor=2_000_000)
    account.status = "disputed"
    db.commit()
    page = client.get(f"/pay/{token}").get_data(as_text=True)
    assert "en revisión" in page and 'id="partial"' in page and 'value="20000.00"' in page
    assert 'value="full"' not in page and 'id="settlement"' not in page
    full = client.post(f"/pay/{token}/checkout", data={"option": "full"})
    assert full.status_code == 409
    response = client.post(f"/pay/{token}/checkout", data={"option": "partial", "amount": "20000"})
    assert response.status_code == 303
    checkout = db.execute(select(Checkout)).scalar_one()
    assert (checkout.purpose, checkout.amount_minor) == ("partial", 2_000_000)
