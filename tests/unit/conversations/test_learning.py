import pytest
import yaml

from bot.conversations import learning


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("mi cedula 1234567", "mi cedula 0000000"),
        ("llamenme al 300 123 4567", "llamenme al 000 000 0000"),
        ("puedo dar 80 mil", "puedo dar 80 mil"),
        ("termina en 4821", "termina en 0000"),
    ],
)
def test_long_numbers_are_never_kept(text, masked):
    assert learning.mask(text) == masked


def test_label_and_export_as_rasa_nlu_yaml(db):
    intents = ["promise_to_pay", "ask_balance"]
    first = learning.record(db, 1, "te cancelo el 20", "es", "inform", 0.31, True)
    second = learning.record(db, 2, "kuanto debo", "es", "ask_balance", 0.4, False)
    noise = learning.record(db, 3, "jajaja", "es", "out_of_scope", 0.2, True)
    learning.record(db, 4, "/ask_balance", "es", "ask_balance", 0.2, True)  # a payload: not kept
    again = learning.record(db, 1, "te cancelo el 20", "es", "inform", 0.31, True)
    db.commit()
    assert again.id == first.id and len(learning.reviews(db)) == 3
    learning.label(db, first.id, "promise_to_pay", "admin:1", intents)
    learning.label(db, second.id, "ask_balance", "admin:1", intents)
    learning.label(db, noise.id, learning.IGNORE, "admin:1", intents)
    with pytest.raises(ValueError):
        learning.label(db, first.id, "not_an_intent", "admin:1", intents)
    db.commit()
    data = yaml.safe_load(learning.export_yaml(db, "es"))
    assert data["nlu"] == [
        {"intent": "ask_balance", "examples": "- kuanto debo\n"},
        {"intent": "promise_to_pay", "examples": "- te cancelo el 20\n"},
    ]
    assert learning.reviews(db, "open") == []


def test_only_fallbacks_and_low_confidence_are_worth_a_look():
    assert learning.worth_reviewing(0.99, True)
    assert learning.worth_reviewing(0.45, False)
    assert not learning.worth_reviewing(0.8, False)
