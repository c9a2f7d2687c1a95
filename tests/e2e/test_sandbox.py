"""Sandbox mode: no Twilio credentials, the built-in Twilio-compatible API and the simulator."""

import pytest
import requests

from bot.testing import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sandbox_url(stack):
    return stack.start_sandbox()


def chat(url, phone, channel="whatsapp"):
    response = requests.get(
        url + "/simulator/messages", params={"phone": phone, "channel": channel}, timeout=5
    )
    assert response.ok
    return response.json()["messages"]


def wait_for_bot(url, phone, count, timeout=30):
    def bot():
        sent = [m for m in chat(url, phone) if m["from"] == "bot"]
        return sent if len(sent) >= count else None

    return wait_for(bot, timeout, what=f"{count} bot message(s)")


def test_simulator_page_lists_demo_debtors(sandbox_url):
    page = requests.get(sandbox_url + "/simulator", timeout=5)
    assert page.ok and "Camila Rodríguez" in page.text and "+573001234567" in page.text


def test_simulator_chat_goes_through_the_signed_webhook(stack, sandbox_url):
    phone = "+12025550143"
    sent = requests.post(
        sandbox_url + "/simulator/send", json={"phone": phone, "body": "hello"}, timeout=10
    )
    assert sent.ok and sent.json()["status"] == 200
    bot = wait_for_bot(sandbox_url, phone, 2)
    assert bot[0]["body"].startswith("Hi!")
    sent = requests.post(
        sandbox_url + "/simulator/send", json={"phone": phone, "body": "5512"}, timeout=10
    )
    bot = wait_for_bot(sandbox_url, phone, 4)
    assert bot[2]["body"].startswith("Thank you, Emily!")
    # Nothing of the sandbox went to the configured "real" provider.
    assert stack.twilio.to(f"whatsapp:{phone}") == []


def test_sandbox_posts_status_callbacks(stack, sandbox_url):
    from tests.e2e.test_pipeline import db_rows

    phone = "+573001230010"  # a number with no debt: it is greeted and asked to verify
    requests.post(
        sandbox_url + "/simulator/send", json={"phone": phone, "body": "hola"}, timeout=10
    )
    wait_for_bot(sandbox_url, phone, 2)

    def statuses():
        rows = db_rows(
            stack,
            "SELECT m.status FROM messages m JOIN conversations c "
            "ON c.id = m.conversation_id WHERE c.address = :a AND m.direction = 'out' "
            "AND c.channel = 'whatsapp'",
            a=phone,
        )
        return {s for (s,) in rows}

    wait_for(lambda: statuses() == {"delivered"}, 15, what="the sandbox's delivery callbacks")


def test_sandbox_api_requires_its_credentials(sandbox_url):
    response = requests.post(
        sandbox_url + "/sandbox/twilio/2010-04-01/Accounts/AC123/Messages.json",
        data={"To": "+1", "From": "+1", "Body": "x"},
        auth=("AC123", "wrong"),
        timeout=5,
    )
    assert response.status_code == 401 and response.json()["code"] == 20003


def test_simulator_is_absent_outside_sandbox(stack):
    assert requests.get(stack.base_url + "/simulator", timeout=5).status_code == 404
