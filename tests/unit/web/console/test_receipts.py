"""The agents' receipts page: the file beside the debtor's debts, confirm (the payment is
applied) or reject, CSRF on both; the conversation view links its receipts."""

import pytest
from sqlalchemy import select

from bot import clock
from bot.models import Account, Message, Payment, PaymentReceipt, StoredFile
from bot.payments import receipts
from tests.unit.web.console.test_admin import csrf, sign_in

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


@pytest.fixture
def agent_client(https, db):
    https.token = sign_in(https, db, "ana@example.com", "agent")
    return https


@pytest.fixture
def receipt(db, conversation):
    message = Message(conversation_id=conversation.id, direction="in", body="", status="processed")
    stored = StoredFile(content_type="image/jpeg", size=len(JPEG), sha256="0" * 64, data=JPEG)
    db.add_all([message, stored])
    db.flush()
    row = PaymentReceipt(
        message_id=message.id,
        media_index=0,
        conversation_id=conversation.id,
        debtor_id=conversation.debtor_id,
        account_id=receipts.suggested_account(db, conversation.debtor_id).id,
        file_id=stored.id,
        content_type="image/jpeg",
    )
    db.add(row)
    db.commit()
    return row


def test_the_list_and_the_receipt_with_its_file(agent_client, db, receipt):
    listing = agent_client.get("/console/receipts/").get_data(as_text=True)
    assert "Camila Rodríguez" in listing and f'href="/console/receipts/{receipt.id}"' in listing
    assert ">Receipts</a>" in agent_client.get("/console/").get_data(as_text=True)
    page = agent_client.get(f"/console/receipts/{receipt.id}").get_data(as_text=True)
    assert f'src="/console/receipts/{receipt.id}/file"' in page and "DEMO-CO-001" in page
    file = agent_client.get(f"/console/receipts/{receipt.id}/file")
    assert file.data == JPEG and file.mimetype == "image/jpeg"
    assert file.headers["Content-Security-Policy"].startswith("sandbox")
    assert file.headers["X-Content-Type-Options"] == "nosniff"
    conversation = agent_client.get(f"/console/conversations/{receipt.conversation_id}")
    assert f"Receipt {receipt.id}" in conversation.get_data(as_text=True)


def test_confirm_applies_the_payment(agent_client, db, receipt, conversation):
    account = receipt.account
    today = clock.today_for(conversation.debtor).isoformat()
    form = {"account": account.id, "amount": "150000", "paid_on": today, "method": "Nequi"}
    without_token = agent_client.post(f"/console/receipts/{receipt.id}/confirm", data=form)
    assert without_token.status_code == 400
    token = csrf(agent_client, f"/console/receipts/{receipt.id}")
    done = agent_client.post(
        f"/console/receipts/{receipt.id}/confirm", data={**form, "csrf_token": token}
    )
    assert done.status_code == 303
    shown = agent_client.get(done.location).get_data(as_text=True)
    assert "Receipt confirmed" in shown and "Confirmed by agent:" in shown
    db.expire_all()
    assert db.get(Account, account.id).status == "paid"
    assert db.execute(select(Payment.provider_ref)).scalar_one() == f"receipt:{receipt.id}"


def test_a_bad_amount_is_explained_not_a_500(agent_client, db, receipt, conversation):
    token = csrf(agent_client, f"/console/receipts/{receipt.id}")
    form = {
        "account": receipt.account_id,
        "amount": "ciento cincuenta",
        "paid_on": "2026-13-40",
        "csrf_token": token,
    }
    response = agent_client.post(f"/console/receipts/{receipt.id}/confirm", data=form)
    assert response.status_code == 303
    assert "Amount:" in agent_client.get(response.location).get_data(as_text=True)
    response = agent_client.post(
        f"/console/receipts/{receipt.id}/confirm", data={**form, "amount": "150000"}
    )
    page = agent_client.get(response.location).get_data(as_text=True)
    assert "The payment date must be a date" in page
    assert db.get(PaymentReceipt, receipt.id).status == "pending"


def test_reject_with_a_reason(agent_client, db, receipt):
    token = csrf(agent_client, f"/console/receipts/{receipt.id}")
    done = agent_client.post(
        f"/console/receipts/{receipt.id}/reject",
        data={"reason": "No es un comprobante", "csrf_token": token},
    )
    assert done.status_code == 303
    db.expire_all()
    assert db.get(PaymentReceipt, receipt.id).status == "rejected"
    assert "No es un comprobante" in agent_client.get(done.location).get_data(as_text=True)


def test_unknown_receipts_and_signed_out_visitors(https, agent_client, receipt):
    assert agent_client.get("/console/receipts/999999").status_code == 404
    assert agent_client.get(f"/console/receipts/{2**40}").status_code == 404
    anonymous = https.application.test_client()
    anonymous.environ_base["wsgi.url_scheme"] = "https"
    response = anonymous.get(f"/console/receipts/{receipt.id}/file")
    assert response.status_code == 302 and "/console/login" in response.location
