import pytest

from bot.models import MessageTemplate
from bot.money import money_var
from bot.templates import store as templates


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("es-CO", ["es-CO", "es"]),
        ("en-US", ["en-US", "en", "es"]),
        ("es", ["es"]),
        (None, ["es"]),
    ],
)
def test_locale_chain(app, locale, expected):
    with app.app_context():
        assert templates.locale_chain(locale) == expected


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
    es, _ = templates.render(db, "balance.overdue", "es-CO", variables)
    en, _ = templates.render(db, "balance.overdue", "en-US", variables)
    assert "15 de diciembre de 2026" in es and "hace 3 días" in es
    assert "December 15, 2026" in en


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
