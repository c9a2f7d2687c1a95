"""PDF receipts and the paz y salvo: issued once per payment and per settled account, signed,
sent as WhatsApp media through an expiring link, verifiable by a page that says only whether the
document is genuine."""

import re

import pytest
from sqlalchemy import func, select

from bot import clock
from bot.models import Account, Document, Message, Payment
from bot.payments import documents
from bot.payments import reconcile as payments


def account_of(db, external_id):
    return db.execute(select(Account).where(Account.external_id == external_id)).scalar_one()


def pay(db, account, amount, ref):
    payment = payments.apply_payment(db, account, amount, "sandbox", ref)
    db.commit()
    return payment


def uri(pdf):
    """The verification URL the PDF links (the QR code is a link too)."""
    [found] = re.findall(rb"/URI \((.*?)\)", pdf)
    return found.decode()


@pytest.fixture
def camila(db, conversation):
    """DEMO-CO-001 (COP 150 000.00), writing on WhatsApp: the window is open."""
    conversation.last_inbound_at = clock.utcnow()
    db.commit()
    return account_of(db, "DEMO-CO-001")


def test_a_partial_payment_gets_a_receipt_sent_as_whatsapp_media(app, db, camila):
    payment = pay(db, camila, 5_000_000, "cs_1")
    [receipt] = documents.issue_after_payment(db, payment)
    db.commit()
    assert (receipt.kind, receipt.number, receipt.payment_id) == (
        "receipt",
        f"RC-{payment.id:06d}",
        payment.id,
    )
    assert receipt.facts["amount"] == "$50.000" and receipt.facts["remaining"] == "$100.000"
    assert (
        receipt.facts["debtor"] == "Camila Rodríguez"
        and receipt.facts["method"] == "Pago de prueba"
    )
    pdf = receipt.file.data
    assert pdf.startswith(b"%PDF-") and receipt.file.content_type == "application/pdf"
    assert uri(pdf) == documents.verify_url(receipt)
    [message] = db.execute(
        select(Message).where(Message.template_key == "document.receipt")
    ).scalars()
    [item] = message.media
    assert item["content_type"] == "application/pdf"
    assert item["url"].startswith("https://bot.example.test/documents/")
    assert item["url"] in message.body  # the text carries the link too (SMS, templates)
    assert receipt.sent_at is not None
    # Nothing is settled yet: no paz y salvo.
    assert documents.paz_y_salvo_for(db, camila) is None


def test_settling_issues_the_paz_y_salvo_once(app, db, camila):
    first = pay(db, camila, 5_000_000, "cs_1")
    documents.issue_after_payment(db, first)
    last = pay(db, camila, 10_000_000, "cs_2")
    docs = documents.issue_after_payment(db, last)
    db.commit()
    assert [d.kind for d in docs] == ["receipt", "paz_y_salvo"]
    paz = docs[1]
    assert paz.facts["original"] == "$150.000" and paz.number == f"PS-{camila.id:06d}"
    # The job again (a retry): nothing new issued, nothing sent twice.
    documents.issue_after_payment(db, last)
    db.commit()
    assert db.execute(select(func.count(Document.id))).scalar() == 3
    sent = db.execute(
        select(Message.template_key, func.count())
        .where(Message.template_key.like("document.%"))
        .group_by(Message.template_key)
    ).all()
    assert dict(sent) == {"document.receipt": 2, "document.paz_y_salvo": 1}


def test_outside_the_window_the_link_goes_by_sms_without_media(app, db, demo_debtors):
    emily = account_of(db, "DEMO-US-001")  # never wrote: WhatsApp's window is closed
    payment = pay(db, emily, emily.balance_minor, "cs_1")
    documents.issue_after_payment(db, payment)
    db.commit()
    messages = (
        db.execute(select(Message).where(Message.template_key.like("document.%"))).scalars().all()
    )
    assert {m.conversation.channel for m in messages} == {"sms"}
    assert all(m.media is None for m in messages)
    paz = db.execute(select(Document).where(Document.kind == "paz_y_salvo")).scalar_one()
    assert paz.locale == "en-US" and paz.facts["original"] == "$420.00"
    assert "certificate of settlement" in messages[-1].body


def test_the_verification_page_says_only_genuine_or_not(app, client, db, camila):
    payment = pay(db, camila, camila.balance_minor, "cs_1")
    documents.issue_after_payment(db, payment)
    db.commit()
    paz = db.execute(select(Document).where(Document.kind == "paz_y_salvo")).scalar_one()
    path = documents.verify_url(paz).split("bot.example.test", 1)[1]
    page = client.get(path, headers={"Accept-Language": "es-CO,es;q=0.9"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Documento auténtico" in text and paz.number in text
    for private in ("Camila", "150.000", "DEMO-CO-001"):
        assert private not in text
    assert page.headers["X-Robots-Tag"] == "noindex"
    public_id, tag = path.rsplit("/", 1)[1].split(".")
    tampered = [
        f"/v/{public_id}.{tag[:-2]}{'AA' if tag[-2:] != 'AA' else 'BB'}",  # the signature
        f"/v/{'x' * len(public_id)}.{tag}",  # another id
        "/v/nonsense",
    ]
    for bad in tampered:
        answer = client.get(bad, headers={"Accept-Language": "en"})
        assert answer.status_code == 404 and "Not a genuine document" in answer.get_data(
            as_text=True
        )
    # A stored fact changed behind the signature's back is caught too.
    paz.facts = {**paz.facts, "original": "$1"}
    db.commit()
    assert client.get(path).status_code == 404


def test_the_download_link_expires_and_names_its_file(app, client, db, camila, travel):
    payment = pay(db, camila, 5_000_000, "cs_1")
    [receipt] = documents.issue_after_payment(db, payment)
    db.commit()
    path = documents.download_url(receipt).split("bot.example.test", 1)[1]
    assert path.endswith(f"/recibo-{receipt.number}.pdf")
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data == receipt.file.data
    assert f'filename="recibo-{receipt.number}.pdf"' in response.headers["Content-Disposition"]
    assert client.get(path.replace("recibo-", "otro-")).status_code == 404
    token = path.split("/")[2]
    assert client.get(f"/documents/x{token}/{documents.filename(receipt)}").status_code == 404
    travel(hours=app.config["DOCUMENT_LINK_TTL_HOURS"], seconds=1)
    expired = client.get(path)
    assert expired.status_code == 404 and "ya no es válido" in expired.get_data(as_text=True)


def test_the_chat_can_ask_for_them(app, db, camila):
    assert documents.send_on_request(db, camila) == [("document.none", {})]
    payment = pay(db, camila, 5_000_000, "cs_1")
    said = documents.send_on_request(db, camila, "paz_y_salvo")
    assert said == [
        ("document.not_settled", {"amount": {"amount": "100000.00", "currency": "COP"}})
    ]
    assert documents.send_on_request(db, camila, "receipt") == [("document.sending", {})]
    pay(db, camila, 10_000_000, "cs_2")
    assert documents.send_on_request(db, camila) == [("document.sending", {})]
    db.commit()
    keys = (
        db.execute(
            select(Message.template_key)
            .where(Message.template_key.like("document.%"))
            .order_by(Message.id)
        )
        .scalars()
        .all()
    )
    assert keys == ["document.receipt", "document.paz_y_salvo", "document.receipt"]
    assert db.execute(select(func.count(Payment.id))).scalar() == 2
    assert payment.id


def test_the_same_facts_make_the_same_pdf(app, db, camila):
    from bot.payments import pdf

    args = ("Recibo", "Acreedor", [("Valor", "$1")], None, "https://x.test/v/a.b", "Ver:", "pie")
    assert pdf.render(*args) == pdf.render(*args)


def test_a_document_signed_with_another_key_does_not_verify(app, db, camila):
    payment = pay(db, camila, 5_000_000, "cs_1")
    [receipt] = documents.issue_after_payment(db, payment)
    db.commit()
    token = documents.verify_url(receipt).rsplit("/", 1)[1]
    assert documents.verify(db, token) is not None
    app.config["DOCUMENT_SECRET"] = "another-key"
    assert documents.verify(db, token) is None
