import re
from datetime import date

import pytest
import yaml
from babel import Locale
from sqlalchemy import select

from bot import users
from bot.models import AuditEvent, MessageTemplate, TemplateKey
from bot.templates import admin as template_admin
from bot.templates import exchange
from bot.templates import store as templates
from bot.templates.admin import TemplateValidationError, check_body
from bot.templates.sms import sms_segments

PASSWORD = "correct horse battery"


@pytest.fixture
def admin(db):
    user, _ = users.create_user(db, "boss@example.com", PASSWORD, "admin")
    db.commit()
    return user


def camila_greeting(db):
    text, _ = templates.render(db, "greet.verified", "es-CO", {"first_name": "Camila"})
    return text


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("Hola {nombre}", "variable {nombre} is not declared for this key"),
        ("Hola amigo", "required variable {first_name} is missing"),
        ("Hola {first_name", "unbalanced brace"),
        ("Hola {first_name}}", "unbalanced brace"),
        ("Hola {First_Name}", "{First_Name} is not a variable"),
        ("Hola {}", "{} is not a variable"),
        ("   ", "the text is empty"),
    ],
)
def test_a_bad_body_is_refused_naming_the_problem(body, problem):
    problems = check_body(body, {"first_name": "text"})
    assert any(problem in p for p in problems), problems


def test_a_good_body_passes_and_optional_variables_may_be_left_out():
    declared = {"amount": "money", "days_overdue": "number"}
    assert check_body("Debes {amount}, hace {days_overdue} días", declared) == []
    assert check_body("Debes {amount}", declared, ["days_overdue"]) == []
    assert check_body("Debes {amount}", declared) == ["required variable {days_overdue} is missing"]
    assert check_body("{amount} {amount}", {"amount": "money"}) == []


def test_every_seed_body_passes_the_admin_rules():
    keys, bodies = templates.load_seed_files()
    for locale, entries in bodies.items():
        for key, body in entries.items():
            spec = keys[key]
            problems = check_body(body, spec.get("variables") or {}, spec.get("optional") or [])
            assert problems == [], f"{locale}/{key}: {problems}"


def test_seed_stores_optional_variables(db):
    assert db.get(TemplateKey, "balance.current").optional == ["days_overdue"]
    assert db.get(TemplateKey, "verify.ok").optional == []


# --- versioning -----------------------------------------------------------------------------


def test_save_adds_a_version_that_is_live_at_once_and_audited(db, admin):
    before = template_admin.live(db, "greet.verified", "es")
    row = template_admin.save(db, "greet.verified", "es", "Qué gusto verte, {first_name}.", admin)
    db.commit()
    assert row.version == before.version + 1 and row.source == "admin"
    assert row.created_by == f"admin:{admin.id}"
    # The next message reads the new text; the previous version is kept.
    assert camila_greeting(db) == "Qué gusto verte, Camila."
    assert [v.version for v in template_admin.versions(db, "greet.verified", "es")][:2] == [
        row.version,
        before.version,
    ]
    event = db.execute(
        select(AuditEvent).where(AuditEvent.action == "template.edited")
    ).scalar_one()
    assert event.actor == f"admin:{admin.id}"
    assert event.data["before"] == before.body
    assert event.data["after"] == "Qué gusto verte, {first_name}."


def test_an_invalid_save_changes_nothing(db, admin):
    count = db.query(MessageTemplate).count()
    with pytest.raises(TemplateValidationError) as info:
        template_admin.save(db, "greet.verified", "es", "Hola {nombre} {first_name", admin)
    assert any("{nombre}" in p for p in info.value.problems)
    assert any("unbalanced" in p for p in info.value.problems)
    db.rollback()
    assert db.query(MessageTemplate).count() == count
    assert camila_greeting(db).startswith("¡Hola de nuevo, Camila!")


def test_saving_the_same_text_adds_no_version(db, admin):
    live = template_admin.live(db, "goodbye", "en")
    assert template_admin.save(db, "goodbye", "en", live.body + "\r\n", admin) is None


def test_restore_publishes_an_old_body_as_a_new_version(db, admin):
    original = template_admin.live(db, "greet.verified", "es")
    template_admin.save(db, "greet.verified", "es", "Hola otra vez, {first_name}.", admin)
    db.commit()
    row = template_admin.restore(db, "greet.verified", "es", original.version, admin)
    db.commit()
    assert row.version == original.version + 2 and row.body == original.body
    assert camila_greeting(db).startswith("¡Hola de nuevo, Camila!")
    event = db.execute(
        select(AuditEvent).where(AuditEvent.action == "template.restored")
    ).scalar_one()
    assert event.data["restored_version"] == original.version
    # Restoring what is already live is a no-op.
    assert template_admin.restore(db, "greet.verified", "es", original.version, admin) is None
    with pytest.raises(LookupError):
        template_admin.restore(db, "greet.verified", "es", 999, admin)


def test_a_new_regional_locale_overrides_the_fallback_for_its_debtors(db, admin):
    template_admin.save(db, "greet.verified", "es-CO", "¡Quiubo, {first_name}!", admin)
    db.commit()
    assert camila_greeting(db) == "¡Quiubo, Camila!"
    mexican, _ = templates.render(db, "greet.verified", "es-MX", {"first_name": "Ana"})
    assert mexican.startswith("¡Hola de nuevo, Ana!")
    with pytest.raises(TemplateValidationError, match="not a tag"):
        template_admin.save(db, "greet.verified", "../es", "Hola {first_name}", admin)


def test_history_shows_what_changed(db, admin):
    template_admin.save(db, "goodbye", "en", "Thanks for writing! Bye.", admin)
    db.commit()
    newest = template_admin.history(db, "goodbye", "en")[0]
    assert ("insert", "Bye.") in newest["changes"]
    assert any(tag == "delete" for tag, _ in newest["changes"])


def test_catalogue_searches_keys_descriptions_and_bodies(db):
    keys = [spec.key for spec, _ in template_admin.catalogue(db, "enlace")]
    assert "payment.link" in keys
    assert [spec.key for spec, _ in template_admin.catalogue(db, "greet.verified")] == [
        "greet.verified"
    ]
    assert len(template_admin.catalogue(db)) == db.query(TemplateKey).count()


# --- SMS segments ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "GSM-7", 0, 1),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("¿Cómo estás?", "UCS-2", 12, 1),  # ó is not GSM-7
        ("¡Hola! ¿Qué tal? éèÑñüÜ", "GSM-7", 23, 1),  # ¡ ¿ é è Ñ ñ ü Ü are
        ("€" * 80, "GSM-7", 160, 1),  # extension characters take two septets
        ("€" * 81, "GSM-7", 162, 2),
        ("a" * 159 + "€", "GSM-7", 161, 2),
        ("a" * 152 + "€" + "a" * 152, "GSM-7", 306, 3),  # the € is not split across parts
        ("a" * 70, "GSM-7", 70, 1),
        ("á" * 70, "UCS-2", 70, 1),
        ("á" * 71, "UCS-2", 71, 2),
        ("á" * 134, "UCS-2", 134, 2),
        ("á" * 135, "UCS-2", 135, 3),
        ("😀" * 35, "UCS-2", 70, 1),  # an emoji is a surrogate pair
        ("á" * 66 + "😀" + "á" * 66, "UCS-2", 134, 3),  # the pair is not split
    ],
)
def test_sms_segments(text, encoding, units, segments):
    count = sms_segments(text)
    assert (count.encoding, count.units, count.segments) == (encoding, units, segments)


# --- preview --------------------------------------------------------------------------------


def test_preview_formats_with_babel_in_each_debtor_locale(db, demo_debtors):
    body = "Debes {amount} desde el {due_date}; ref {reference}. Hace {days_overdue} días."
    today = date(2026, 11, 23)
    items = template_admin.preview(db, "balance.current", "es", body, today=today)
    locales = [item["locale"] for item in items]
    assert locales[0] == "es" and "es-CO" in locales
    colombia = next(item for item in items if item["locale"] == "es-CO")
    money = templates.format_money(
        {"amount": "150000.00", "currency": "COP"}, Locale.parse("es_CO")
    )
    day = templates.format_value("date", "2026-11-30", Locale.parse("es_CO"), today)
    assert colombia["text"] == (f"Debes {money} desde el {day}; ref CO-1001. Hace 3 días.")
    assert "30 de noviembre;" in colombia["text"]  # this year's date: no year
    assert colombia["length"] == len(colombia["text"]) and not colombia["too_long"]
    assert colombia["sms"].encoding == "UCS-2"  # "í" is not GSM-7


def test_preview_flags_a_text_over_the_whatsapp_limit(db):
    [item] = template_admin.preview(db, "goodbye", "en", "x" * 1025)
    assert item["too_long"] and item["length"] == 1025
    assert item["sms"].segments == 7  # 1025 septets / 153


# --- export and import ----------------------------------------------------------------------


def test_export_then_import_round_trips_and_only_changes_what_differs(db, admin):
    text = exchange.export_yaml(db)
    data = yaml.safe_load(text)
    assert data["keys"]["greet.verified"]["variables"] == {"first_name": "text"}
    assert data["keys"]["balance.current"]["optional"] == ["days_overdue"]
    # Importing the file unchanged creates nothing.
    result = exchange.import_yaml(db, text, admin)
    assert result.changed == [] and result.unchanged > 40
    data["keys"]["greet.verified"]["bodies"]["es"] = "Bienvenida de nuevo, {first_name}.\nHola."
    result = exchange.import_yaml(db, yaml.safe_dump(data, allow_unicode=True), admin)
    db.commit()
    assert [(k, loc) for k, loc, _v in result.changed] == [("greet.verified", "es")]
    assert camila_greeting(db) == "Bienvenida de nuevo, Camila.\nHola."
    assert (
        db.execute(select(AuditEvent).where(AuditEvent.action == "template.imported"))
        .scalar_one()
        .data["locale"]
        == "es"
    )
    # Multi-line bodies are written as readable blocks.
    assert re.search(r"\n +es: \|-\n +Bienvenida de nuevo", exchange.export_yaml(db))


def test_an_import_with_any_problem_changes_nothing(db, admin):
    data = yaml.safe_load(exchange.export_yaml(db))
    data["keys"]["goodbye"]["bodies"]["es"] = "Adiós, nuevo texto."
    data["keys"]["greet.verified"]["bodies"]["en"] = "Hi {name}"
    data["keys"]["no.such.key"] = {"bodies": {"es": "x"}}
    data["keys"]["verify.ok"]["variables"] = {"first_name": "text", "extra": "number"}
    count = db.query(MessageTemplate).count()
    with pytest.raises(TemplateValidationError) as info:
        exchange.import_yaml(db, yaml.safe_dump(data, allow_unicode=True), admin)
    problems = " | ".join(info.value.problems)
    assert "greet.verified (en): variable {name} is not declared" in problems
    assert "no.such.key: no such template key" in problems
    assert "verify.ok: the file declares variables" in problems
    db.rollback()
    assert db.query(MessageTemplate).count() == count


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("keys: [", "not valid YAML"),
        ("just text", "not a template export"),
        ("format: message-templates/1\n", "has no keys"),
    ],
)
def test_an_import_that_is_not_an_export_is_refused(db, admin, text, problem):
    with pytest.raises(TemplateValidationError, match=problem):
        exchange.import_yaml(db, text, admin)


def test_export_and_import_commands(app, db, tmp_path):
    runner = app.test_cli_runner()
    path = tmp_path / "templates.yml"
    result = runner.invoke(args=["export-templates", str(path)])
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["keys"]["goodbye"]["bodies"]["en"] = "See you soon!"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    result = runner.invoke(args=["import-templates", str(path)])
    assert result.exit_code == 0, result.output
    assert "goodbye (en): version 2" in result.output and "1 changed" in result.output
    db.expire_all()
    live = template_admin.live(db, "goodbye", "en")
    assert live.body == "See you soon!" and live.created_by == "cli"

    data["keys"]["goodbye"]["bodies"]["en"] = "Bye {who}"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    result = runner.invoke(args=["import-templates", str(path)])
    assert result.exit_code == 1
    assert "goodbye (en): variable {who} is not declared" in result.output
    assert "nothing imported" in result.output


def test_a_save_from_a_stale_editor_is_refused(db, admin):
    base = template_admin.live(db, "goodbye", "en").version
    template_admin.save(db, "goodbye", "en", "Bye from Ana.", admin, base_version=base)
    db.commit()
    with pytest.raises(template_admin.TemplateConflict, match=f"version {base + 1} was published"):
        template_admin.save(db, "goodbye", "en", "Bye from Beto.", admin, base_version=base)
    assert template_admin.live(db, "goodbye", "en").body == "Bye from Ana."


@pytest.mark.parametrize(
    ("locale", "amount"),
    [("es-CO", "$150.000"), ("es-CL", "$89.990"), ("es-MX", "$1,250.50"), ("en-US", "$1,250.50")],
)
def test_sample_money_is_in_the_locales_currency_with_its_decimals(app, locale, amount):
    with app.app_context():
        values = template_admin.sample_variables({"amount": "money"}, locale)
        babel_locale = Locale.parse(locale.replace("-", "_"))
        text = templates.format_value("money", values["amount"], babel_locale)
    assert text.replace("\xa0", " ").strip() == amount


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("Te quedan {attempts_left} intentos.", "{attempts_left} is a count"),
        ("Te {attempts_left, plural, one {queda # intento}} ya.", "needs an `other {...}` form"),
        (
            "Te {attempts_left, plural, one {queda #} few {quedan #} other {quedan #}}.",
            "'few' is not a plural form of this language",
        ),
        ("Te {intentos, plural, one {#} other {#}}.", "undeclared variable {intentos}"),
        ("Te {attempts_left, plural, one {queda # intento} other {quedan", "unbalanced brace"),
    ],
)
def test_the_editor_refuses_counts_without_their_plural_forms(db, admin, body, problem):
    with pytest.raises(TemplateValidationError) as info:
        template_admin.save(db, "verify.failed", "es", body, admin)
    assert any(problem in p for p in info.value.problems), info.value.problems


def test_the_editor_saves_plural_forms_and_register_texts(db, admin):
    body = (
        "Datos incorrectos: le "
        "{attempts_left, plural, one {queda # intento} other {quedan # intentos}}."
    )
    row = template_admin.save(db, "verify.failed", "es@usted", body, admin)
    db.commit()
    assert row.locale == "es@usted"
    assert templates.render(db, "verify.failed", "es-CO", {"attempts_left": 1}, "usted")[0] == (
        "Datos incorrectos: le queda 1 intento."
    )
    with pytest.raises(TemplateValidationError, match="registers: usted, vos"):
        template_admin.save(db, "verify.failed", "es@ustedes", body, admin)
