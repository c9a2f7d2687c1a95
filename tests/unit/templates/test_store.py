from datetime import date

import pytest

from bot.models import MessageTemplate
from bot.money import money_var
from bot.templates import store as templates


@pytest.mark.parametrize(
    ("locale", "register", "expected"),
    [
        ("es-CO", None, ["es-CO", "es"]),
        ("en-US", None, ["en-US", "en", "es"]),
        ("es", None, ["es"]),
        (None, None, ["es"]),
        ("es-AR", "vos", ["es-AR@vos", "es@vos", "es-AR", "es"]),
        ("es-CO", "tu", ["es-CO", "es"]),
        ("en-US", "usted", ["en-US@usted", "en@usted", "en-US", "en", "es"]),
    ],
)
def test_locale_chain(app, locale, register, expected):
    with app.app_context():
        assert templates.locale_chain(locale, register=register) == expected


@pytest.mark.parametrize(
    ("locale", "amount", "currency", "text"),
    [
        ("es-CO", "150000.00", "COP", "$150.000 "),
        ("es-MX", "2350.50", "MXN", "$2,350.50"),
        ("es-CL", "89990", "CLP", "$89.990"),
        ("en-US", "420.00", "USD", "$420.00"),
    ],
)
def test_money_follows_the_debtors_locale(db, locale, amount, currency, text):
    body, _ = templates.render(
        db,
        "balance.current",
        locale,
        {
            "amount": {"amount": amount, "currency": currency},
            "due_date": "2026-12-15",
            "days_overdue": 0,
            "reference": "R-1",
        },
    )
    assert text in body.replace("\u202f", "\xa0")


def test_dates_in_spanish_and_english(db):
    variables = {
        "amount": money_var(100, "USD"),
        "due_date": "2026-12-15",
        "days_overdue": 3,
        "reference": "R",
    }
    next_year = date(2027, 1, 2)
    es, _ = templates.render(db, "balance.overdue", "es-CO", variables, today=next_year)
    en, _ = templates.render(db, "balance.overdue", "en-US", variables, today=next_year)
    assert "15 de diciembre de 2026" in es and "hace 3 días" in es
    assert "December 15, 2026" in en


@pytest.mark.parametrize(
    ("locale", "today", "text"),
    [
        ("es-CO", date(2026, 12, 1), "vence el 15 de diciembre (referencia"),
        ("en-US", date(2026, 12, 1), "due on December 15 (reference"),
        ("es-CO", date(2025, 12, 1), "vence el 15 de diciembre de 2026"),
        ("en-US", date(2027, 1, 5), "due on December 15, 2026"),
    ],
)
def test_the_year_only_when_it_is_not_the_current_one(db, locale, today, text):
    variables = {
        "amount": money_var(100, "USD"),
        "due_date": "2026-12-15",
        "reference": "R",
    }
    body, _ = templates.render(db, "balance.current", locale, variables, today=today)
    assert text in body


@pytest.mark.parametrize(
    ("locale", "left", "text"),
    [
        ("es", 1, "te queda 1 intento."),
        ("es", 2, "te quedan 2 intentos."),
        ("en", 1, "1 attempt left."),
        ("en", 2, "2 attempts left."),
        ("es@usted", 1, "le queda 1 intento."),
        ("es@vos", 2, "podés intentarlo de nuevo: te quedan 2 intentos."),
    ],
)
def test_plural_forms_follow_cldr(db, locale, left, text):
    body, _ = templates.render(db, "verify.failed", locale, {"attempts_left": left})
    assert text in " ".join(body.split())


def test_plural_exact_values_and_the_number_sign():
    body = "{n, plural, =0 {nada} one {# cuota} other {# cuotas}} de {amount}"
    declared = {"n": "count", "amount": "text"}
    assert templates.render_body(body, declared, {"n": 0, "amount": "x"}, "es") == "nada de x"
    assert templates.render_body(body, declared, {"n": 1, "amount": "x"}, "es") == "1 cuota de x"
    assert templates.render_body(body, declared, {"n": 1200, "amount": "x"}, "es-CO").startswith(
        "1.200 cuotas"
    )


def test_a_plan_of_one_remaining_installment_reads_right(db):
    variables = {
        "count": 2,
        "first_amount": money_var(5000, "USD"),
        "first_date": "2026-12-15",
        "others": 1,
        "amount": money_var(5000, "USD"),
        "total": money_var(10000, "USD"),
    }
    en, _ = templates.render(db, "plan.summary", "en-US", variables, today=date(2026, 12, 1))
    es, _ = templates.render(db, "plan.summary", "es-CO", variables, today=date(2026, 12, 1))
    assert "then 1 monthly installment of $50.00" in " ".join(en.split())
    assert "luego 1 cuota mensual de" in " ".join(es.split())


@pytest.mark.parametrize(
    ("locale", "amount", "currency", "text"),
    [
        # A Colombian account read in English: no "COP275,500", no "$" that says dollars.
        ("en", "275500.00", "COP", "275\xa0500\xa0Colombian pesos"),
        ("en", "89990", "CLP", "89\xa0990\xa0Chilean pesos"),
        ("en", "2350.50", "MXN", "2\xa0350.50\xa0Mexican pesos"),
        ("es-CO", "420.00", "USD", "420,00\xa0dólares estadounidenses"),
        ("es-US", "420.00", "USD", "$420.00"),
    ],
)
def test_money_in_another_currency_is_never_ambiguous(app, locale, amount, currency, text):
    with app.app_context():
        formatted = templates.format_money(
            {"amount": amount, "currency": currency}, templates.babel_locale(locale)
        )
    assert formatted == text


@pytest.mark.parametrize(
    ("locale", "zone", "city"),
    [
        ("es", "America/Bogota", "Bogotá"),
        ("es", "America/Mexico_City", "Ciudad de México"),
        ("en", "America/Mexico_City", "Mexico City"),
        ("es", "Etc/Unknown", "Unknown"),
    ],
)
def test_zone_cities_in_the_debtors_language(locale, zone, city):
    assert templates.zone_city(zone, templates.babel_locale(locale)) == city


def test_register_texts_fall_back_to_the_base_register(db):
    usted, used = templates.render(db, "verify.ask", "es-CO", register="usted")
    assert used == "es@usted" and "escríbame" in usted
    vos, _ = templates.render(db, "verify.ask", "es-AR", register="vos")
    assert "escribime" in vos
    # A key with no text in the register is read in the base one; English has no register.
    button, used = templates.render(db, "button.agent", "es-CO", register="usted")
    assert used == "es" and button == "Hablar con una persona"
    english, used = templates.render(db, "verify.ask", "en-US", register="usted")
    assert used == "en"


def test_seed_registers_only_repeat_keys_that_exist():
    keys, bodies = templates.load_seed_files()
    for register in ("es@usted", "es@vos"):
        assert set(bodies[register]) <= set(keys)
        assert {"verify.failed", "greet", "help.menu", "payment.link"} <= set(bodies[register])


def test_fallback_to_default_language(db):
    text, used = templates.render(db, "greet", "pt-BR")
    assert used == "es" and text.startswith("¡Hola!")


def test_latest_published_version_is_live(db):
    db.add(MessageTemplate(key="goodbye", locale="es", version=2, body="Adiós v2", source="admin"))
    db.add(
        MessageTemplate(
            key="goodbye", locale="es", version=3, body="Borrador", source="admin", published=False
        )
    )
    db.commit()
    assert templates.render(db, "goodbye", "es-CO")[0] == "Adiós v2"


def test_seed_keeps_admin_edits(db):
    db.add(MessageTemplate(key="goodbye", locale="es", version=2, body="Editado", source="admin"))
    db.commit()
    assert templates.seed(db) == 0
    assert templates.render(db, "goodbye", "es")[0] == "Editado"


def test_undeclared_or_missing_variable_is_an_error():
    with pytest.raises(templates.TemplateError, match="undeclared variable 'x'"):
        templates.render_body("Hola {x}", {}, {"x": 1}, "es")
    with pytest.raises(templates.TemplateError, match="'name' was not given"):
        templates.render_body("Hola {name}", {"name": "text"}, {}, "es")


def test_seed_files_are_consistent_and_complete():
    keys, bodies = templates.load_seed_files()
    assert templates.check_seed(keys, bodies) == []
    for locale in ("es", "en"):
        assert set(bodies[locale]) == set(keys), f"{locale} lacks {set(keys) - set(bodies[locale])}"
