"""An agent takes over a conversation in the browser (Debian's Chromium), replies, hands back."""

import re

import pytest

from bot.testing import wait_for
from tests.e2e.test_pipeline import db_rows, settle, turn

pytestmark = pytest.mark.e2e

ROSA = "+573015550300"
PASSWORD = "agent password 123"


def test_agent_claims_replies_and_hands_back(stack, page):
    stack._run("create-user", "ana@example.com", "--role", "agent", "--password", PASSWORD)
    address = f"whatsapp:{ROSA}"

    page.goto(stack.base_url + "/console/")
    page.fill("#email", "ana@example.com")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("table.queue")
    assert "Rosa" not in page.inner_text("#queue-body")

    # The debtor asks for a person; the queue shows it without a reload.
    [handoff] = turn(stack, ROSA, "quiero hablar con una persona por favor", 1)
    assert "persona de nuestro equipo" in handoff
    row = page.wait_for_selector("#queue-body tr:has-text('Rosa Díaz')")
    assert "Asked for a person" in row.inner_text()

    page.click("#queue-body a:has-text('Rosa Díaz')")
    page.click("#claim")
    page.wait_for_selector("text=Claimed: the bot is paused")
    wait_for(
        lambda: (
            db_rows(stack, "SELECT bot_paused FROM conversations WHERE address = :a", a=ROSA)
            == [(1,)]
        )
    )

    # While the agent holds it, the debtor's words reach the console and the bot stays silent.
    sent = len(stack.twilio.to(address))
    stack.post(stack.inbound_form(ROSA, "perdi mi trabajo, puedo pagar en enero?"))
    page.wait_for_selector("#messages li.in:has-text('puedo pagar en enero')")
    settle(stack, address, sent)

    page.fill("#reply-text", "Hola Rosa, soy Ana. Podemos acordar una fecha en enero.")
    page.click("form.reply button[type=submit]")
    [reply] = stack.twilio.wait_for(address, sent + 1)[sent:]
    assert reply["body"] == "Hola Rosa, soy Ana. Podemos acordar una fecha en enero."
    # Delivery status comes back through Twilio's callback and shows in the view.
    page.wait_for_selector(
        "#messages li.out:has-text('soy Ana') .status:text-matches('sent|delivered')"
    )

    page.fill("#note-text", "Ofrecer plan en enero")
    page.click("form.note button[type=submit]")
    page.wait_for_selector("text=Ofrecer plan en enero")
    settle(stack, address, sent + 1)  # a note is never sent

    page.click("#hand-back")
    page.wait_for_selector("text=Handed back to the bot.")
    [back] = stack.twilio.wait_for(address, sent + 2)[sent + 1 :]
    assert "asistente automático" in back["body"]
    wait_for(
        lambda: (
            db_rows(stack, "SELECT bot_paused FROM conversations WHERE address = :a", a=ROSA)
            == [(0,)]
        )
    )

    # The bot answers the next message again.
    replies = turn(stack, ROSA, "hola", 2)
    assert re.search(r"4 dígitos|4 digitos", " ".join(replies))
    actions = [a for (a,) in db_rows(stack, "SELECT action FROM audit_events ORDER BY id")]
    for action in (
        "conversation.claimed",
        "conversation.agent_message",
        "conversation.handed_back",
    ):
        assert action in actions


def test_sign_out_ends_the_session(stack, page):
    stack._run("create-user", "beto@example.com", "--role", "agent", "--password", PASSWORD)
    page.goto(stack.base_url + "/console/login")
    page.fill("#email", "beto@example.com")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("text=beto@example.com")
    cookies = page.context.cookies()
    page.click("button:has-text('Sign out')")
    page.wait_for_selector("text=You are signed out.")
    page.context.add_cookies(cookies)  # replaying the old cookie does not bring it back
    page.goto(stack.base_url + "/console/")
    assert page.url.startswith(stack.base_url + "/console/login")
