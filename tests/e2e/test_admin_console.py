"""An admin edits texts and loads debts in the browser (Debian's Chromium); the bot follows."""

import pytest
from sqlalchemy import create_engine, text

from tests.e2e.test_pipeline import db_rows, turn

pytestmark = pytest.mark.e2e

ELENA = "+573015550400"
TOMAS = "+573015550402"
PASSWORD = "admin password 123"
NEW_GREETING = "¡Hola! Somos el equipo de cartera 🙌. Primero confirmemos tu identidad."
DEBTS = (
    "external_id,full_name,phone,country,locale,currency,amount_due,due_date,id_last4\n"
    "E2E-ADM-1,Elena Mora,3015550400,CO,es-CO,COP,45000.00,2026-11-15,4040\n"
    "E2E-ADM-2,Sin Fecha,3015550401,CO,es-CO,COP,1000.00,15/11/2026,4041\n"
    "E2E-ADM-3,Tomás Mora,3015550402,CO,es-CO,COP,51000.00,2026-11-16,4042\n"
)


def greet_versions(stack):
    sql = "SELECT version, body FROM message_templates WHERE key = 'greet' AND locale = 'es'"
    return db_rows(stack, sql + " ORDER BY version")


@pytest.fixture
def keep_greeting(stack):
    """Put the seed greeting back if the test stops half-way: later e2e tests expect it."""
    seed = greet_versions(stack)[-1]
    yield
    latest = greet_versions(stack)[-1]
    if latest[1] != seed[1]:
        engine = create_engine(stack.env["DATABASE_URL"], future=True)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO message_templates (key, locale, version, body, published, "
                    "source, created_by, created_at) VALUES ('greet', 'es', :v, :b, 1, 'admin', "
                    "'test', CURRENT_TIMESTAMP)"
                ),
                {"v": latest[0] + 1, "b": seed[1]},
            )
        engine.dispose()


def sign_in(stack, page):
    stack._run("create-user", "admin@example.com", "--role", "admin", "--password", PASSWORD)
    page.goto(stack.base_url + "/console/login")
    page.fill("#email", "admin@example.com")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.click("nav a:has-text('Admin')")
    page.wait_for_selector("h1:has-text('Administration')")


def test_admin_loads_debts_and_the_next_bot_message_uses_the_edited_text(
    stack, page, keep_greeting
):
    sign_in(stack, page)

    # Debts come in through the same import as the CLI; the bad row is listed by line.
    page.click("a:has-text('Import debts')")
    page.set_input_files(
        "#debts-file", files=[{"name": "d.csv", "mimeType": "text/csv", "buffer": DEBTS.encode()}]
    )
    page.click("form.upload button[type=submit]")
    summary = page.inner_text("#summary")
    assert summary == "2 created, 0 updated, 0 unchanged, 1 rejected"
    assert "due_date '15/11/2026' is not a date" in page.inner_text("table.errors tbody tr")

    original = greet_versions(stack)
    page.goto(stack.base_url + "/console/admin/")
    page.click("a:has-text('Message templates')")
    page.fill("#q", "identidad")
    page.click("form.search button[type=submit]")
    page.click("a:text-is('greet')")
    page.click("#locale-es a:has-text('Edit es')")
    page.fill("#body", NEW_GREETING)
    page.click("#preview-button")
    preview = page.inner_text(".preview[data-locale='es-CO']")
    assert NEW_GREETING in preview and "SMS: 2 segments (UCS-2" in preview
    page.click("#save-button")
    page.wait_for_selector(f"text=Published version {len(original) + 1} of greet (es).")

    # No restart: the next message to the debtor uses the new text.
    greeting, ask = turn(stack, ELENA, "hola", 2)
    assert greeting == NEW_GREETING
    assert "4 dígitos" in ask

    # Restoring the previous version brings the old text back for the next message.
    page.click("#locale-es a:has-text('History')")
    page.click(f"button:has-text('Restore version {original[-1][0]}')")
    page.wait_for_selector(f"text=Restored version {original[-1][0]}")
    greeting, _ask = turn(stack, TOMAS, "hola", 2)
    assert greeting == original[-1][1]
    actions = [a for (a,) in db_rows(stack, "SELECT action FROM audit_events")]
    assert {"debts.imported", "template.edited", "template.restored"} <= set(actions)


def test_an_invalid_template_is_refused_and_nothing_changes(stack, page):
    sign_in(stack, page)
    before = greet_versions(stack)
    page.goto(stack.base_url + "/console/admin/templates/greet.verified/es/edit")
    page.fill("#body", "¡Hola de nuevo, {nombre}!")
    page.click("#save-button")
    problems = page.inner_text("#problems")
    assert "variable {nombre} is not declared for this key (declared: first_name)" in problems
    assert "required variable {first_name} is missing" in problems
    assert page.input_value("#body") == "¡Hola de nuevo, {nombre}!"
    assert greet_versions(stack) == before
    rows = db_rows(
        stack,
        "SELECT count(*) FROM message_templates WHERE key = 'greet.verified' AND source = 'admin'",
    )
    assert rows == [(0,)]
