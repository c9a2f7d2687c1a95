import pytest

from bot.conversations.language import detect, locale_for


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("hola buenas", "es"),
        ("cuanto debo?", "es"),
        ("no tengo plata xq me quede sin laburo", "es"),
        ("¿mañana?", "es"),
        ("hi there", "en"),
        ("how much do I owe?", "en"),
        ("hola, how much do i owe", "en"),
        ("pls send me the link", "en"),
        ("4821", None),
        ("ok", None),
        ("", None),
    ],
)
def test_detect(text, language):
    assert detect(text) == language


@pytest.mark.parametrize(
    ("language", "country", "locale"),
    [("es", "US", "es-US"), ("en", "CO", "en"), ("es", "CO", "es-CO"), ("en", None, "en")],
)
def test_locale_for(language, country, locale):
    assert locale_for(language, country) == locale
