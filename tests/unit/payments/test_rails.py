"""Pay by reference: the seed, the admin's edits (validated, audited), what debtors are shown,
and the payment reference."""

import pytest
from sqlalchemy import func, select

from bot.models import Account, AuditEvent, RailMethod
from bot.payments import rails


def method(db, country, code):
    return db.execute(
        select(RailMethod).where(RailMethod.country == country, RailMethod.code == code)
    ).scalar_one()


@pytest.fixture
def camila(db, demo_debtors):
    """DEMO-CO-001, a Colombian debtor."""
    return db.execute(select(Account).where(Account.external_id == "DEMO-CO-001")).scalar_one()


NEQUI = {"phone": "3001112233", "holder_name": "Cobranzas Ejemplo SAS"}


def publish(db, country, code, values):
    row = method(db, country, code)
    rails.update(db, row, values, True, "admin:1")
    db.commit()
    return row


def test_the_seed_covers_five_countries_and_never_overwrites_an_edit(db):
    counts = dict(
        db.execute(select(RailMethod.country, func.count()).group_by(RailMethod.country)).all()
    )
    assert set(counts) == {"AR", "CL", "CO", "MX", "PE"}
    nequi = publish(db, "CO", "nequi", NEQUI)
    assert rails.seed(db) == 0  # migrated_db seeded already: nothing new
    db.refresh(nequi)
    assert nequi.values == NEQUI and nequi.enabled
    # Methods that need the creditor's data start off; provider ones are on (nothing to fill).
    assert not method(db, "MX", "spei").enabled
    assert method(db, "CO", "pse").enabled and method(db, "CO", "pse").via == "mercadopago"


def test_a_deleted_method_comes_back_with_the_next_seed(db):
    db.delete(method(db, "PE", "yape"))
    db.commit()
    assert rails.seed(db) == 1
    assert method(db, "PE", "yape").fields["phone"]["pattern"] == "^9\\d{8}$"


@pytest.mark.parametrize(
    ("country", "code", "values", "field", "problem"),
    [
        ("CO", "nequi", {"phone": "2001112233", "holder_name": "X"}, "phone", "format"),
        ("CO", "nequi", {"phone": "3001112233"}, "holder_name", "required"),
        (
            "MX",
            "spei",
            {"clabe": "032180000118359718", "bank": "BBVA", "holder_name": "X"},
            "clabe",
            "check digit",
        ),
        (
            "CO",
            "bancolombia_transfer",
            {
                "bank": "Bancolombia",
                "account_type": "vista",
                "account_number": "12345678901",
                "holder_name": "X",
                "holder_id": "900123456-7",
            },
            "account_type",
            "one of",
        ),
        ("AR", "transferencia", {"cbu": "0170099220000067797371"}, "cbu", "check digit"),
    ],
)
def test_bad_values_are_refused_with_the_field_named(db, country, code, values, field, problem):
    row = method(db, country, code)
    with pytest.raises(rails.RailError) as refused:
        rails.update(db, row, values, False, "admin:1")
    assert problem in refused.value.problems[field]
    db.rollback()
    assert method(db, country, code).values in ({}, {"bank": "Bancolombia"})


def test_an_incomplete_method_cannot_be_enabled(db):
    row = method(db, "CO", "daviplata")
    with pytest.raises(rails.RailError) as refused:
        rails.update(db, row, {"phone": "3109998877"}, True, "admin:1")
    assert set(refused.value.problems) == {"holder_name"}


def test_an_edit_is_audited_with_before_and_after(db):
    row = publish(db, "CO", "nequi", NEQUI)
    rails.update(db, row, {**NEQUI, "phone": "3005556677"}, True, "admin:7")
    db.commit()
    [latest, first] = rails.history(db, row)[:2]
    assert latest.actor == "admin:7"
    assert latest.data["changes"] == {"phone": ["3001112233", "3005556677"]}
    assert first.data["changes"]["enabled"] == [False, True]
    # Saving the same values again records nothing.
    assert rails.update(db, row, {**NEQUI, "phone": "3005556677"}, True, "admin:7") == {}


def test_values_are_cleaned(db):
    row = method(db, "CO", "nequi")
    values, problems = rails.validate(
        row, {"phone": " 3001112233 ", "holder_name": "Cobranzas \x00  Ejemplo\n SAS"}
    )
    assert not problems
    assert values == {"phone": "3001112233", "holder_name": "Cobranzas Ejemplo SAS"}


def test_debtors_see_only_enabled_complete_receipt_methods(db, camila):
    assert rails.usable(db, "CO") == []
    publish(db, "CO", "nequi", NEQUI)
    publish(db, "CO", "daviplata", {"phone": "3109998877", "holder_name": "Cobranzas"})
    assert [m.code for m in rails.usable(db, "CO")] == ["nequi", "daviplata"]
    assert rails.usable(db, "MX") == []
    assert rails.through_provider(db, "CO", "mercadopago") == [
        "PSE (débito desde tu banco)",
        "Efecty (efectivo)",
    ]
    assert rails.through_provider(db, "CO", "stripe") == []


def test_the_chat_answers_with_the_methods_the_debtor_names(db, camila):
    publish(db, "CO", "nequi", NEQUI)
    publish(db, "CO", "daviplata", {"phone": "3109998877", "holder_name": "Cobranzas"})
    publish(
        db,
        "CO",
        "bre_b",
        {"key_type": "celular", "key": "3001112233", "holder_name": "Cobranzas"},
    )
    said = rails.instructions(db, camila, "es", "¿a qué cuenta consigno, Nequi o DAVIPLATA?")
    assert [v["method"] for _key, v in said] == ["Nequi", "Daviplata"]
    key, first = said[0]
    assert key == "payment.by_reference"
    assert first["details"] == "Número Nequi: 3001112233\nTitular: Cobranzas Ejemplo SAS"
    assert first["reference"] == rails.payment_reference(camila)
    assert first["where"] == "el mensaje del envío"
    # Naming none of them: all of them, in the admin's order.
    every = rails.instructions(db, camila, "en", "how do I pay by transfer?")
    assert [v["method"] for _key, v in every] == [
        "Bre-B (transferencia inmediata con llave)",
        "Nequi",
        "Daviplata",
    ]
    assert every[1][1]["details"].startswith("Nequi number: 3001112233")
    assert every[1][1]["where"] == "the transfer's message"


def test_no_published_method_means_nothing_to_say(db, camila):
    assert rails.instructions(db, camila, "es", "nequi") == []


def test_the_payment_reference_carries_a_check_digit(camila):
    reference = rails.payment_reference(camila)
    assert len(reference) == 7 and reference.isdigit()
    assert rails.account_id_from_reference(reference) == camila.id
    assert rails.account_id_from_reference(f" {reference[:3]}-{reference[3:]} ") == camila.id
    typo = reference[:-1] + str((int(reference[-1]) + 1) % 10)
    assert rails.account_id_from_reference(typo) is None
    assert rails.account_id_from_reference("12") is None
    assert rails.payment_reference(Account(id=12_345_678)).startswith("12345678")


def test_an_admin_adds_a_method_of_their_own(db):
    row = rails.add_custom(db, "us", " Zelle ", "admin:1")
    db.commit()
    assert (row.country, row.code, row.name, row.confirmation) == (
        "US",
        "custom_1",
        "Zelle",
        "receipt",
    )
    rails.update(
        db,
        row,
        {"holder_name": "Creditor LLC", "details": "pay@example.com\nMemo: reference"},
        True,
        "admin:1",
    )
    db.commit()
    assert [m.name for m in rails.usable(db, "US")] == ["Zelle"]
    with pytest.raises(rails.RailError):
        rails.add_custom(db, "USA", "", "admin:1")
    added = db.execute(
        select(AuditEvent).where(AuditEvent.action == "rail_method.added")
    ).scalar_one()
    assert added.data == {"name": "Zelle"}


def test_the_demo_fills_only_untouched_methods(db):
    publish(db, "CO", "nequi", {"phone": "3109998877", "holder_name": "Mi empresa"})
    assert rails.load_demo(db) == 3
    assert method(db, "CO", "nequi").values["phone"] == "3109998877"  # the admin's, kept
    assert method(db, "MX", "spei").enabled and rails.is_complete(method(db, "MX", "spei"))
    assert rails.load_demo(db) == 0
