import csv
import io
import re
from datetime import date, datetime

import pytest
import yaml
from sqlalchemy import select

from bot import users
from bot.debts import plans, policies, promises
from bot.models import Account, AuditEvent, Message, MessageTemplate, PaymentPolicy, Promise
from bot.templates import admin as template_admin
from bot.templates import exchange
from bot.templates import store as templates
from tests.console import PASSWORD, form_token
from tests.console import sign_in as console_sign_in

csrf = form_token


def sign_in(client, db, email, role):
    users.create_user(db, email, PASSWORD, role)
    db.commit()
    assert console_sign_in(client, email).status_code == 302
    return csrf(client, "/console/")


@pytest.fixture
def admin_client(https, db):
    https.token = sign_in(https, db, "boss@example.com", "admin")
    return https


def greeting(db):
    db.expire_all()
    return templates.render(db, "greet.verified", "es-CO", {"first_name": "Camila"})[0]


def test_agents_cannot_reach_the_admin_console(https, db):
    sign_in(https, db, "ana@example.com", "agent")
    for path in ("/console/admin/", "/console/admin/templates", "/console/admin/policies"):
        assert https.get(path).status_code == 403
    assert ">Admin</a>" not in https.get("/console/").get_data(as_text=True)


def test_signed_out_users_are_sent_to_sign_in(https):
    response = https.get("/console/admin/templates")
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]


def test_admins_see_the_admin_link_and_search_templates(admin_client):
    assert ">Admin</a>" in admin_client.get("/console/").get_data(as_text=True)
    page = admin_client.get("/console/admin/templates?q=enlace").get_data(as_text=True)
    assert "payment.link" in page and "greet.verified" not in page


def test_edit_preview_and_publish_changes_the_next_message(admin_client, db, demo_debtors):
    url = "/console/admin/templates/greet.verified/es/edit"
    page = admin_client.get(url).get_data(as_text=True)
    assert "¡Hola de nuevo, {first_name}!" in page
    body = "¡Bienvenida otra vez, {first_name}! ¿Seguimos?"
    preview = admin_client.post(
        url, data={"body": body, "action": "preview", "csrf_token": admin_client.token}
    )
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert 'data-locale="es-CO"' in text and "¡Bienvenida otra vez, Camila! ¿Seguimos?" in text
    assert "40 / 1024 characters" in text and "SMS: 1 segment (GSM-7" in text
    assert greeting(db).startswith("¡Hola de nuevo")  # a preview publishes nothing

    saved = admin_client.post(
        url, data={"body": body, "action": "save", "csrf_token": admin_client.token}
    )
    assert saved.status_code == 302
    assert greeting(db) == "¡Bienvenida otra vez, Camila! ¿Seguimos?"
    page = admin_client.get("/console/admin/templates/greet.verified").get_data(as_text=True)
    assert "Published version 2 of greet.verified (es)." in page


def test_an_invalid_template_is_refused_naming_the_variable(admin_client, db):
    count = db.query(MessageTemplate).count()
    response = admin_client.post(
        "/console/admin/templates/greet.verified/es/edit",
        data={"body": "Hola {nombre}", "action": "save", "csrf_token": admin_client.token},
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "variable {nombre} is not declared for this key" in text
    assert "required variable {first_name} is missing" in text
    assert "Hola {nombre}</textarea>" in text  # what was typed is not lost
    assert db.query(MessageTemplate).count() == count
    assert greeting(db).startswith("¡Hola de nuevo")


def test_a_save_without_the_csrf_token_is_refused(admin_client, db):
    response = admin_client.post(
        "/console/admin/templates/greet.verified/es/edit",
        data={"body": "Hola {first_name}", "action": "save"},
    )
    assert response.status_code == 400
    assert greeting(db).startswith("¡Hola de nuevo")


def test_unknown_keys_and_bad_locales_are_404(admin_client):
    assert admin_client.get("/console/admin/templates/nope/es/edit").status_code == 404
    assert admin_client.get("/console/admin/templates/greet/x_y/edit").status_code == 404


def test_history_and_restore(admin_client, db):
    url = "/console/admin/templates/goodbye/en"
    admin_client.post(
        url + "/edit",
        data={"body": "Bye for now!", "action": "save", "csrf_token": admin_client.token},
    )
    page = admin_client.get(url + "/history").get_data(as_text=True)
    assert "Version 2 (live)" in page and "<ins>" in page and "admin:" in page
    response = admin_client.post(url + "/restore/1", data={"csrf_token": admin_client.token})
    assert response.status_code == 302
    db.expire_all()
    live = template_admin.live(db, "goodbye", "en")
    assert live.version == 3 and live.body == template_admin.versions(db, "goodbye", "en")[2].body
    assert (
        admin_client.post(url + "/restore/9", data={"csrf_token": admin_client.token}).status_code
        == 404
    )


def test_export_and_import_files(admin_client, db):
    response = admin_client.get("/console/admin/templates/export")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    data = yaml.safe_load(response.get_data(as_text=True))
    data["keys"]["goodbye"]["bodies"]["es"] = "¡Hasta pronto!"
    upload = yaml.safe_dump(data, allow_unicode=True).encode()
    check = admin_client.post(
        "/console/admin/templates/import",
        data={
            "csrf_token": admin_client.token,
            "action": "check",
            "file": (io.BytesIO(upload), "t.yml"),
        },
        content_type="multipart/form-data",
    )
    assert "nothing imported: 1 text(s) would change" in check.get_data(as_text=True)
    db.expire_all()
    assert template_admin.live(db, "goodbye", "es").version == 1
    response = admin_client.post(
        "/console/admin/templates/import",
        data={
            "csrf_token": admin_client.token,
            "action": "import",
            "file": (io.BytesIO(upload), "t.yml"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert "1 text(s) changed" in response.get_data(as_text=True)
    db.expire_all()
    assert template_admin.live(db, "goodbye", "es").body == "¡Hasta pronto!"

    data["keys"]["goodbye"]["bodies"]["es"] = "Adiós {nombre}"
    bad = yaml.safe_dump(data, allow_unicode=True).encode()
    response = admin_client.post(
        "/console/admin/templates/import",
        data={"csrf_token": admin_client.token, "file": (io.BytesIO(bad), "t.yml")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "goodbye (es): variable {nombre} is not declared" in response.get_data(as_text=True)
    db.expire_all()
    assert template_admin.live(db, "goodbye", "es").body == "¡Hasta pronto!"


def test_policy_edit_is_validated_and_audited(admin_client, db):
    page = admin_client.get("/console/admin/policies").get_data(as_text=True)
    assert "default" in page and "Late fee grace days" in page
    url = "/console/admin/policies/edit?portfolio=default"
    form = {
        "portfolio": "default",
        "csrf_token": admin_client.token,
        "max_installments": "6",
        "min_first_payment_pct": "10",
        "min_first_payment_minor": "2000000",
        "min_installment_minor": "0",
        "plan_fee_bps": "0",
        "max_promise_days": "15",
        "max_deferral_days": "30",
        "discount_max_pct": "0",
        "discount_valid_days": "0",
        "late_fee_minor": "500000",
        "late_fee_bps": "0",
        "late_fee_grace_days": "5",
    }
    bad = admin_client.post(url, data={**form, "max_installments": "100"})
    assert bad.status_code == 422
    assert "Maximum installments: must be between 2 and 60" in bad.get_data(as_text=True)
    db.expire_all()
    policy = db.execute(
        select(PaymentPolicy).where(PaymentPolicy.portfolio == "default")
    ).scalar_one()
    assert policy.max_installments == 12

    assert admin_client.post(url, data=form).status_code == 302
    db.expire_all()
    # A new version from today: the one before keeps its terms for the days it governed.
    assert policy.max_installments == 12
    policy = policies.get(db, "default")
    assert (policy.max_installments, policy.min_first_payment_minor) == (6, 2_000_000)
    assert policy.effective_from > date(2000, 1, 1)
    event = db.execute(select(AuditEvent).where(AuditEvent.action == "policy.updated")).scalar_one()
    assert event.data["changes"]["max_installments"] == [12, 6]
    assert event.data["changes"]["late_fee_minor"] == [0, 500_000]
    rows = plans.schedule(10_000_000, 4, policy, date(2026, 1, 1))
    assert rows[0][1] >= 2_000_000
    page = admin_client.get(url).get_data(as_text=True)
    assert "max_installments: 12 → 6" in page and "late_fee_minor: 0 → 500000" in page


CSV_HEADER = "external_id,full_name,phone,country,locale,currency,amount_due,due_date,id_last4\n"


def test_debt_upload_uses_the_import_and_lists_bad_rows(admin_client, db):
    text = (
        CSV_HEADER
        + "UP-1,Lucía Gómez,3001112233,CO,es-CO,COP,99000.00,2026-12-01,1111\n"
        + "UP-2,Bad Amount,3001112234,CO,es-CO,COP,12.345,2026-12-01,2222\n"
        + "UP-3,No Date,3001112235,CO,es-CO,COP,1000,31/12/2026,3333\n"
    )
    response = admin_client.post(
        "/console/admin/import",
        data={"csrf_token": admin_client.token, "file": (io.BytesIO(text.encode()), "d.csv")},
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "1 created, 0 updated, 0 unchanged, 2 rejected" in page
    assert "<td>3</td>" in page and "<td>4</td>" in page and "due_date" in page
    assert db.execute(select(Account).where(Account.external_id == "UP-1")).scalar_one()
    assert db.execute(select(Account).where(Account.external_id == "UP-2")).scalar() is None
    event = db.execute(select(AuditEvent).where(AuditEvent.action == "debts.imported")).scalar_one()
    assert event.data["created"] == 1 and event.data["rejected"] == 2


def test_debt_upload_without_a_file_or_with_only_bad_rows(admin_client):
    response = admin_client.post("/console/admin/import", data={"csrf_token": admin_client.token})
    assert response.status_code == 400 and "Choose a file" in response.get_data(as_text=True)
    response = admin_client.post(
        "/console/admin/import",
        data={"csrf_token": admin_client.token, "file": (io.BytesIO(b"a,b\n1,2\n"), "x.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "header lacks column(s)" in response.get_data(as_text=True)


def test_account_export_has_state_and_exact_money(admin_client, db, conversation):
    account = db.execute(select(Account).where(Account.external_id == "DEMO-CO-001")).scalar_one()
    policy = promises.policy_for(db, account)
    rows = plans.schedule(account.balance_minor, 3, policy, date(2026, 12, 1))
    plans.create_plan(db, account, rows, "agent:1")
    mx = db.execute(select(Account).where(Account.external_id == "DEMO-MX-001")).scalar_one()
    db.add(
        Promise(
            account_id=mx.id, amount_minor=235050, promised_date=date(2026, 12, 20), created_by="t"
        )
    )
    db.add(
        Message(
            conversation_id=conversation.id,
            direction="in",
            body="hola",
            status="received",
            created_at=datetime(2026, 11, 20, 10, 30),
        )
    )
    # A name that a spreadsheet would run as a formula is exported inert.
    mx.debtor.full_name = "=HYPERLINK(1)"
    db.commit()
    response = admin_client.get("/console/admin/export/accounts.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    reader = csv.DictReader(io.StringIO(response.get_data(as_text=True)))
    exported = {row["external_id"]: row for row in reader}
    camila = exported["DEMO-CO-001"]
    assert camila["debtor_name"] == "Camila Rodríguez" and camila["phone"] == "+573001234567"
    assert (camila["balance"], camila["currency"], camila["status"]) == ("150000.00", "COP", "plan")
    assert camila["plan"].startswith("3 installments, 0 paid, total 150000.00 COP, next 2026-12-01")
    assert camila["last_contact_utc"] == "2026-11-20T10:30:00Z"
    jorge = exported["DEMO-MX-001"]
    assert jorge["promise"] == "2026-12-20 2350.50 MXN" and jorge["plan"] == ""
    assert jorge["debtor_name"] == "'=HYPERLINK(1)" and jorge["last_contact_utc"] == ""
    assert exported["DEMO-CL-001"]["balance"] == "89990"
    event = db.execute(
        select(AuditEvent).where(AuditEvent.action == "accounts.exported")
    ).scalar_one()
    assert event.data == {"rows": len(exported)}


@pytest.mark.parametrize("size", [210 * 1024, 300 * 1024])
def test_a_file_too_large_is_refused_with_a_clear_message(admin_client, db, size):
    line = "UP-1,Lucía Gómez,3001112233,CO,es-CO,COP,99000.00,2026-12-01,1111\n"
    text = (CSV_HEADER + line * (size // len(line) + 1)).encode()
    response = admin_client.post(
        "/console/admin/import",
        data={"csrf_token": admin_client.token, "file": (io.BytesIO(text), "big.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code in (400, 413)
    assert "larger than 200 KB" in response.get_data(as_text=True)
    assert db.execute(select(Account).where(Account.external_id == "UP-1")).scalar() is None


def test_two_admins_editing_the_same_text_do_not_undo_each_other(admin_client, db):
    url = "/console/admin/templates/goodbye/en/edit"
    page = admin_client.get(url).get_data(as_text=True)
    base = re.search(r'name="base_version" value="(\d+)"', page).group(1)
    form = {"action": "save", "csrf_token": admin_client.token, "base_version": base}
    assert admin_client.post(url, data={**form, "body": "Bye, first."}).status_code == 302
    stale = admin_client.post(url, data={**form, "body": "Bye, second."})
    text = stale.get_data(as_text=True)
    assert stale.status_code == 409
    assert "since you opened this text" in text and "Bye, first." in text
    assert "Bye, second.</textarea>" in text
    # Saving again from the refreshed form is a deliberate choice and goes through.
    new_base = re.search(r'name="base_version" value="(\d+)"', text).group(1)
    assert int(new_base) == int(base) + 1
    again = admin_client.post(url, data={**form, "base_version": new_base, "body": "Bye, second."})
    assert again.status_code == 302
    db.expire_all()
    assert template_admin.live(db, "goodbye", "en").body == "Bye, second."


def test_policies_page_names_portfolios_without_their_own_policy(admin_client, demo_debtors):
    page = admin_client.get("/console/admin/policies").get_data(as_text=True)
    assert 'id="uncovered"' in page and "?portfolio=demo" in page


def test_a_simultaneous_write_is_a_409_not_a_500(admin_client, db, monkeypatch):
    admin_client.post(
        "/console/admin/templates/goodbye/en/edit",
        data={"body": "Bye!", "action": "save", "csrf_token": admin_client.token},
    )
    # Another admin took the next version number between our read and our write.
    monkeypatch.setattr(template_admin, "_next_version", lambda *_args: 2)
    response = admin_client.post(
        "/console/admin/templates/goodbye/en/restore/1", data={"csrf_token": admin_client.token}
    )
    assert response.status_code == 409
    assert "at the same moment" in response.get_data(as_text=True)
    edit = admin_client.post(
        "/console/admin/templates/goodbye/en/edit",
        data={"body": "Bye again!", "action": "save", "csrf_token": admin_client.token},
    )
    assert edit.status_code == 409
    assert "published at the same time" in edit.get_data(as_text=True)
    db.expire_all()
    assert template_admin.live(db, "goodbye", "en").body == "Bye!"


def test_key_page_shows_which_text_a_locale_falls_back_to(admin_client, db):
    admin = users.find(db, "boss@example.com")
    template_admin.save(db, "goodbye", "es-CO", "¡Chao pues!", admin)
    db.commit()
    page = admin_client.get("/console/admin/templates/goodbye").get_data(as_text=True)
    assert "¡Chao pues!" in page
    en_section = page.split('id="locale-en"')[1].split("</section>")[0]
    assert "Version 1" in en_section
    db.execute(MessageTemplate.__table__.delete().where(MessageTemplate.locale == "en"))
    db.commit()
    page = admin_client.get("/console/admin/templates/goodbye").get_data(as_text=True)
    en_section = page.split('id="locale-en"')[1].split("</section>")[0]
    assert 'the <a href="#locale-es">es</a> text' in en_section


def test_link_a_content_sid_and_see_which_keys_lack_one(admin_client, db):
    from bot.models import AuditEvent, TemplateKey

    listing = admin_client.get("/console/admin/templates").get_data(as_text=True)
    assert "have no approved template" in listing and "reminder.due.friendly" in listing
    path = "/console/admin/templates/reminder.due.friendly"
    token = csrf(admin_client, path)
    bad = admin_client.post(
        f"{path}/content-sid", data={"csrf_token": token, "content_sid": "HX123"}
    )
    assert bad.status_code == 303
    assert "HX followed by 32" in admin_client.get(path).get_data(as_text=True)
    undeclared = admin_client.post(
        f"{path}/content-sid",
        data={"csrf_token": token, "content_sid": "HX" + "0" * 32, "variables": '{"1": "nombre"}'},
    )
    assert undeclared.status_code == 303
    assert "{nombre} is not a variable" in admin_client.get(path).get_data(as_text=True)
    assert db.get(TemplateKey, "reminder.due.friendly").content_sid is None
    admin_client.post(
        f"{path}/content-sid",
        data={
            "csrf_token": token,
            "content_sid": "HX" + "ab" * 16,
            "variables": '{"1": "first_name", "2": "amount"}',
        },
    )
    db.expire_all()
    spec = db.get(TemplateKey, "reminder.due.friendly")
    assert spec.content_sid == "HX" + "ab" * 16
    assert spec.content_variables == {"1": "first_name", "2": "amount"}
    assert db.query(AuditEvent).filter_by(action="template.content_sid").count() == 1
    listing = admin_client.get("/console/admin/templates").get_data(as_text=True)
    assert "reminder.due.friendly," not in listing.split("have no approved template")[1][:2000]


def test_odd_numbers_and_files_are_refused_not_500(admin_client, db):
    path = "/console/admin/templates/greet/es"
    token = csrf(admin_client, f"{path}/edit")
    odd = admin_client.post(
        f"{path}/edit",
        data={
            "csrf_token": token,
            "body": "Hola\\x00 😊",
            "base_version": "²",
            "action": "preview",
        },
    )
    assert odd.status_code in (200, 422)
    huge = admin_client.post(f"{path}/restore/99999999999999999999", data={"csrf_token": token})
    assert huge.status_code == 404
    bad = yaml.safe_dump(
        {
            "format": exchange.EXPORT_FORMAT,
            "keys": {"greet": {"variables": ["first_name"], "bodies": {"es": "Hola"}}},
        }
    )
    response = admin_client.post(
        "/console/admin/templates/import",
        data={"csrf_token": token, "action": "check", "file": (io.BytesIO(bad.encode()), "t.yml")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "variables must be a mapping" in response.get_data(as_text=True)
