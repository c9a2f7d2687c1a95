"""The consoles' catalogues: every console text has a Spanish translation, texts the domain
hands over are covered, and a page follows the user's choice, else the browser."""

import subprocess
import sys

import pytest
from babel.messages.pofile import read_po

from bot.conversations import handover
from bot.debts import policies
from bot.web.console import i18n
from tests.conftest import ROOT
from tests.console import PASSWORD, sign_in

CATALOGUE = ROOT / "bot" / "web" / "translations" / "es" / "LC_MESSAGES" / "messages.po"


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k",
         "_l", "-k", "lazy_gettext", "--no-location", "-o", str(pot), "."],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    with pot.open("rb") as fh:
        return {m.id for m in read_po(fh) if m.id}


def test_every_console_text_is_translated_to_spanish(extracted):
    with CATALOGUE.open("rb") as fh:
        catalogue = {m.id: m.string for m in read_po(fh) if m.id}
    missing = sorted(str(i) for i in extracted if not catalogue.get(i))
    assert missing == [], f"run `make extract-messages` and translate: {missing[:10]}"
    assert len(extracted) > 300


def test_texts_from_the_domain_have_their_translation():
    assert set(handover.REASON_LABELS) <= set(i18n.REASONS)
    assert {f.name for f in policies.FIELDS} == set(i18n.POLICY_FIELDS)


def test_the_sign_in_page_follows_the_browser_then_the_choice(https):
    page = https.get("/console/login", headers={"Accept-Language": "es-MX,es;q=0.8,en;q=0.5"})
    assert "Iniciar sesión" in page.get_data(as_text=True)
    english = https.get("/console/login", headers={"Accept-Language": "en-US"})
    assert "Sign in" in english.get_data(as_text=True)
    token = english.get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    https.post("/console/language", data={"lang": "es", "csrf_token": token, "next": "/x"})
    chosen = https.get("/console/login", headers={"Accept-Language": "en-US"})
    assert "Iniciar sesión" in chosen.get_data(as_text=True)


def test_a_flash_message_in_spanish(https, db):
    from bot import users

    users.create_user(db, "ana@example.com", PASSWORD, "agent")
    db.commit()
    https.environ_base["HTTP_ACCEPT_LANGUAGE"] = "es"
    answer = sign_in(https, "ana@example.com", "wrong password!!")
    assert "El correo o la contraseña no son correctos." in answer.get_data(as_text=True)


def test_the_queue_in_spanish_formats_waiting_in_minutes(https, db):
    from bot import users
    from tests.console import form_token

    users.create_user(db, "ana@example.com", PASSWORD, "agent")
    users.create_user(db, "ana2@example.com", PASSWORD, "agent")
    db.commit()
    https.environ_base["HTTP_ACCEPT_LANGUAGE"] = "es"
    sign_in(https, "ana@example.com")
    page = https.get("/console/").get_data(as_text=True)
    assert "Conversaciones en espera de un agente" in page and "Nadie está esperando." in page
    assert form_token(https, "/console/")


@pytest.mark.parametrize("lang", ["es", "en"])
def test_the_fast_formatters_agree_with_babel(app, lang):
    from decimal import Decimal

    from flask_babel import format_currency, format_decimal

    with app.test_request_context("/console/", headers={"Accept-Language": lang}):
        for value in (0, 7, 999, 1000, 1234, 9999, 10000, 123456, 1234567, -12345):
            assert i18n.number(value) == format_decimal(value)
        assert i18n.money(15_000_000, "COP") == format_currency(Decimal("150000.00"), "COP")
        assert i18n.money(42_000, "USD") == format_currency(Decimal("420.00"), "USD")
    with app.test_request_context("/console/", headers={"Accept-Language": "es"}):
        assert i18n.money(15_000_000, "COP") == "150.000,00\xa0COP"
        assert i18n.percent(0.524) == "52,4\xa0%"


def test_the_receipts_payment_methods_and_ledger_policy_pages_in_spanish(https, db):
    from bot import users

    users.create_user(db, "boss@example.com", PASSWORD, "admin")
    db.commit()
    https.environ_base["HTTP_ACCEPT_LANGUAGE"] = "es"
    sign_in(https, "boss@example.com")
    receipts = https.get("/console/receipts/").get_data(as_text=True)
    assert "Comprobantes por verificar" in receipts
    assert "No hay comprobantes pendientes." in receipts
    assert ">Comprobantes</a>" in https.get("/console/").get_data(as_text=True)
    methods = https.get("/console/admin/payment-methods/").get_data(as_text=True)
    assert "Pago por referencia: medios de pago por país" in methods
    assert "Agregar un medio propio" in methods
    policy = https.get("/console/admin/policies/edit?portfolio=default").get_data(as_text=True)
    assert "Orden de imputación de los pagos" in policy and "Vigente desde" in policy
    assert "cargos → intereses → capital" in policy and "Año de 360 días" in policy
