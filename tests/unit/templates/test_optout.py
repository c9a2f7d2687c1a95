"""Opt-out instructions in US-facing texts (Regulation F 1006.6(e)): the seeds have them and
the admin editor refuses a US-facing reminder text without them."""

import pytest

from bot import users
from bot.templates import admin as template_admin
from bot.templates import optout
from bot.templates import store as templates

BODY = "Hi {first_name}, your payment of {amount} (ref. {reference}) is due on {due_date}: {url}"


@pytest.fixture
def admin(db):
    user, _ = users.create_user(db, "boss@example.com", "correct horse battery", "admin")
    db.commit()
    return user


@pytest.mark.parametrize(
    "text, found",
    [
        ("Reply STOP to stop these messages.", True),
        ("Responde STOP o BAJA.", True),
        ("Si prefieres, responde BAJA.", True),
        ("Stop by our office", False),  # a word, not the keyword in capitals
        ("", False),
    ],
)
def test_has_opt_out_line(text, found):
    assert optout.has_opt_out_line(text) is found


def test_which_texts_are_us_facing():
    assert optout.is_us_facing("reminder.due.friendly", "en")
    assert optout.is_us_facing("reminder.discreet", "es-US")
    assert not optout.is_us_facing("reminder.due.friendly", "es-CO")
    assert not optout.is_us_facing("reminder.offer.plan", "en")  # a line inside a reminder
    assert not optout.is_us_facing("greet", "en")


def test_every_seeded_us_facing_text_has_the_instructions():
    keys, bodies = templates.load_seed_files()
    for locale, entries in bodies.items():
        for key, body in entries.items():
            spec = keys[key]
            problems = template_admin.check_body(
                body.strip(), spec.get("variables") or {}, spec.get("optional") or [], key, locale
            )
            assert problems == [], (key, locale, problems)


def test_the_editor_refuses_a_us_facing_reminder_without_them(db, admin):
    with pytest.raises(template_admin.TemplateValidationError, match="Regulation F"):
        template_admin.save(db, "reminder.upcoming.friendly", "en", BODY, admin)
    with pytest.raises(template_admin.TemplateValidationError, match="STOP"):
        template_admin.save(db, "reminder.upcoming.friendly", "es-US", BODY, admin)
    saved = template_admin.save(
        db, "reminder.upcoming.friendly", "en", BODY + "\nReply STOP to stop these messages.", admin
    )
    assert saved.version == 2
    # Colombian Spanish is not read in the US: no line required.
    assert template_admin.save(db, "reminder.upcoming.friendly", "es-CO", BODY, admin)
