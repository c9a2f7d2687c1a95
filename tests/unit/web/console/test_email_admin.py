"""An admin edits a key's e-mail version: validated like its text, previewed as rendered HTML
and text side by side, published as a new version that the next e-mail uses."""

import html

from sqlalchemy import select

from bot.models import AuditEvent, EmailTemplate
from bot.templates import email as email_templates
from tests.unit.web.console.test_admin import sign_in

URL = "/console/admin/templates/reminder.due.friendly/email/es"


def test_agents_cannot_edit_email_templates(https, db):
    sign_in(https, db, "ana@example.com", "agent")
    assert https.get(URL).status_code == 403


def test_preview_shows_html_and_text_side_by_side_and_publish_versions_it(https, db):
    token = sign_in(https, db, "boss@example.com", "admin")
    page = https.get(URL).get_data(as_text=True)
    assert 'id="preview-html"' in page and 'id="preview-text"' in page
    assert "sandbox" in page  # the HTML preview runs nothing
    parts = {
        "csrf_token": token,
        "subject": "Hoy vence {amount}",
        "html": '<h1>Hola {first_name}</h1><p><a class="button" href="{url}">Pagar</a></p>'
        "<p>{amount}, ref. {reference}</p>",
        "text": "Hola {first_name}, paga {amount} (ref. {reference}) en {url}",
    }
    preview = https.post(URL, data={**parts, "action": "preview"}).get_data(as_text=True)
    srcdoc = html.unescape(preview.split('srcdoc="', 1)[1].split('"', 1)[0])
    assert '<html lang="es"' in srcdoc and "Pagar</a>" in srcdoc and 'style="' in srcdoc
    assert "/email/unsubscribe/" in srcdoc  # the footer with its visible link
    assert db.execute(select(EmailTemplate).where(EmailTemplate.source == "admin")).first() is None
    saved = https.post(URL, data={**parts, "action": "save"})
    assert saved.status_code == 303
    row, _ = email_templates.lookup(db, "reminder.due.friendly", "es-CO")
    assert (row.source, row.subject, row.version) == ("admin", "Hoy vence {amount}", 2)
    audit = db.execute(
        select(AuditEvent).where(AuditEvent.action == "template.email_saved")
    ).scalar_one()
    assert audit.data["before"]["subject"] == "Hoy vence tu pago de {amount}"


def test_bad_email_templates_are_refused_with_every_reason(https, db):
    token = sign_in(https, db, "boss@example.com", "admin")
    response = https.post(
        URL,
        data={
            "csrf_token": token,
            "action": "save",
            "subject": "Hola {nombre}",
            "html": '<p onclick="x()">{first_name}</p><script>alert(1)</script>',
            "text": "Hola",
        },
    )
    assert response.status_code == 422
    page = html.unescape(response.get_data(as_text=True))
    assert "subject: variable {nombre} is not declared" in page
    assert "scripts, frames and forms" in page and "event handlers" in page
    assert db.execute(select(EmailTemplate).where(EmailTemplate.source == "admin")).first() is None
