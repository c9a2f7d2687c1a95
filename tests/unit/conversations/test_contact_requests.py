import pytest
from sqlalchemy import select

from bot.conversations import contact_requests
from bot.models import AuditEvent, Debtor


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("cambié de número, anoten este 3009998877", "+573009998877"),
        ("mi nuevo cel es 300 999 8877 gracias", "+573009998877"),
        ("el nuevo es +52 1 55 1234 5678", "+525512345678"),  # Mexico's old mobile 1
        ("my new one is +1 (202) 555-0143", "+12025550143"),
        ("cambié de número", None),
        ("termina en 4821", None),
    ],
)
def test_numbers_are_read_in_the_debtors_country(conversation, text, phone):
    assert contact_requests.find_phone(text, conversation) == phone


def test_an_agent_confirms_a_new_number_then_it_is_on_file(db, conversation):
    row = contact_requests.request_new_number(db, conversation, "+573009998877", "anoten este")
    db.commit()
    contact_requests.decide(db, row.id, conversation.id, "agent:1", confirm=True)
    db.commit()
    assert conversation.debtor.phone == "+573009998877" and row.status == "confirmed"
    event = db.execute(
        select(AuditEvent).where(AuditEvent.action == "contact.request_confirmed")
    ).scalar_one()
    assert event.data["after"].endswith("877") and "9998877" not in event.data["after"]
    with pytest.raises(contact_requests.ContactRequestError, match="already decided"):
        contact_requests.decide(db, row.id, conversation.id, "agent:1", confirm=False)


def test_a_number_another_debtor_has_is_refused(db, conversation):
    other = db.execute(select(Debtor).where(Debtor.phone != conversation.address)).scalars().first()
    row = contact_requests.request_new_number(db, conversation, other.phone, "este")
    db.commit()
    with pytest.raises(contact_requests.ContactRequestError, match="Another debtor"):
        contact_requests.decide(db, row.id, conversation.id, "agent:1", confirm=True)


def test_a_dismissed_call_back_changes_nothing(db, conversation):
    row = contact_requests.request_callback(db, conversation, None, "llámenme")
    db.commit()
    contact_requests.decide(db, row.id, conversation.id, "agent:1", confirm=False)
    assert row.status == "dismissed" and contact_requests.pending(db, conversation.id) == []
