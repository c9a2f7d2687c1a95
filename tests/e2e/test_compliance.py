"""Consent and stops in the chat, through the real stack (Rasa, the action server, workers):
a Colombian without consent on file is asked once after verifying and says yes; a stop is
honoured at once and the debtor is asked, once, whether every channel is meant."""

import pytest

from tests.e2e.test_pipeline import db_rows, turn

pytestmark = pytest.mark.e2e


def test_colombia_asks_for_consent_after_verification(stack):
    phone = "+573015550410"  # no consent on file
    turn(stack, phone, "hola", 2)
    verified = turn(stack, phone, "4040", 3)
    assert verified[0].startswith("¡Gracias, Clara!")
    assert verified[-1].startswith("¿Te podemos enviar por aquí recordatorios")
    assert "1. Sí, autorizo" in verified[-1]
    [thanks] = turn(stack, phone, "1", 1)
    assert thanks.startswith("¡Gracias! Quedó registrada tu autorización")
    [(channel, action, method, evidence)] = db_rows(
        stack,
        "SELECT c.channel, c.action, c.method, c.evidence FROM consent_records c "
        "JOIN debtors d ON d.id = c.debtor_id WHERE d.phone = :p",
        p=phone,
    )
    assert (channel, action, method) == ("whatsapp", "granted", "chat")
    assert evidence.startswith("1 (answer to consent.ask")


def test_a_stop_then_every_channel(stack):
    phone = "+573015550411"
    [asked] = turn(stack, phone, "STOP", 1)
    assert asked.startswith("Listo, no te enviaremos más recordatorios por este medio.")
    assert "1. Por ningún medio" in asked and "2. Solo por este medio" in asked
    [done] = turn(stack, phone, "1", 1)
    assert done.startswith("Listo: no te contactaremos por ningún medio.")
    [row] = db_rows(
        stack,
        "SELECT opted_out_whatsapp_at, opted_out_sms_at, opted_out_email_at FROM debtors "
        "WHERE phone = :p",
        p=phone,
    )
    assert None not in row
    words = db_rows(
        stack,
        "SELECT c.channel, c.scope, c.evidence FROM consent_records c JOIN debtors d "
        "ON d.id = c.debtor_id WHERE d.phone = :p AND c.action = 'revoked' ORDER BY c.id",
        p=phone,
    )
    assert words == [("whatsapp", "channel", "STOP"), ("sms", "all", "1"), ("email", "all", "1")]
