"""The conversation flows in the language the earlier tests did not cover (see test_pipeline)."""

import pytest

from tests.e2e.test_pipeline import db_rows, turn

pytestmark = pytest.mark.e2e


def verify(stack, phone, digits):
    turn(stack, phone, "hi", 2)
    verified = turn(stack, phone, digits, 2)
    assert verified[0].startswith("Thank you,")


def test_installments_in_english(stack):
    phone = "+12025550110"
    verify(stack, phone, "1010")
    [ask] = turn(stack, phone, "can i pay in installments?", 1)
    assert ask.startswith("In how many monthly installments")
    [summary] = turn(stack, phone, "I can pay 100 dollars per month", 1)
    assert "plan of 3 installments" in summary and "Total: $300.00" in summary
    [created] = turn(stack, phone, "yes", 1)
    assert created.startswith("Done! Your plan of 3 installments is set up.")


def test_already_paid_in_english(stack):
    phone = "+12025550111"
    verify(stack, phone, "1011")
    [ask_date] = turn(stack, phone, "i already paid this", 1)
    assert ask_date.startswith("Thanks for letting us know! On what day")
    [ask_amount] = turn(stack, phone, "yesterday", 1)
    assert ask_amount.startswith("How much was the payment?")
    [recorded] = turn(stack, phone, "don't know", 1)
    assert recorded.startswith("Done: we've recorded your payment")
    [(amount,)] = db_rows(
        stack,
        "SELECT c.claimed_amount_minor FROM payment_claims c JOIN accounts a "
        "ON a.id = c.account_id WHERE a.external_id = 'E2E-US-11'",
    )
    assert amount is None


def test_hardship_opt_out_and_bot_question_in_english(stack):
    phone = "+12025550112"
    [support] = turn(stack, phone, "i lost my job and can't pay right now", 1)
    assert support.startswith("I'm really sorry") and "\n1. I need more time" in support
    [bot] = turn(stack, phone, "am i talking to a robot?", 1)
    assert bot.startswith("I'm an automated virtual assistant")
    [stopped] = turn(stack, phone, "STOP. do not text me again", 1)
    assert stopped.startswith("Done: we won't send you more reminders")
    [(when,)] = db_rows(
        stack, "SELECT opted_out_whatsapp_at FROM debtors WHERE phone = :p", p=phone
    )
    assert when is not None


def test_wrong_number_and_misunderstandings_in_english(stack):
    phone = "+12025550113"
    verify(stack, phone, "1013")
    [first] = turn(stack, phone, "what's the weather like in paris", 1)
    assert first.startswith("Sorry, I didn't quite get that")
    [second] = turn(stack, phone, "who won the football game yesterday", 1)
    assert second.startswith("Sorry, I still don't understand")
    [sorry] = turn(stack, phone, "wrong number, i don't know this person", 1)
    assert sorry.startswith("Sorry for the trouble") and "Ava" not in sorry


def test_payment_link_and_discount_in_spanish(stack):
    phone = "+573015550200"
    turn(stack, phone, "hola", 2)
    turn(stack, phone, "2020", 2)
    [link] = turn(stack, phone, "mandame el link de pago porfa", 1)
    assert link.startswith("Aquí tienes tu enlace de pago seguro por $90.000: ")
    [discount] = turn(stack, phone, "me hacen descuento si pago todo?", 1)
    assert discount.startswith("Por ahora no tenemos un descuento disponible")
