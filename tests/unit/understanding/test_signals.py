import json
import subprocess
import sys

import pytest

from understanding.rules import correct, signal


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("yo te cancelo el 20 de enero", "promise_to_pay"),
        ("could I pay on the 3rd?", "promise_to_pay"),
        # A date with a payment verb is a promise (the promise limit applies), unless it asks
        # for time.
        ("puedo cancelar el 25 de este mes?", "promise_to_pay"),
        ("me das plazo hasta el 30 para pagar?", "request_deferral"),
        ("puedo dar 80 mil cada mes", "request_installments"),
        ("i can pay 50 a week", "request_installments"),
        ("ya pagué el 15", None),  # it happened: a claim, not a promise
        ("puedo pagar hoy?", None),  # paying now keeps its own intent
        ("cuanto debo", None),
    ],
)
def test_signals(text, intent):
    assert signal(text) == intent


@pytest.mark.parametrize(
    ("name", "text", "corrected"),
    [
        ("request_deferral", "puedo cancelar el 25 de este mes?", "promise_to_pay"),
        ("dispute_debt", "no debo eso, lo pagué el 15 de enero", None),  # not confusable
        ("out_of_scope", "puedo dar 80 mil cada mes", "request_installments"),
        ("request_deferral", '/request_deferral{"date": "el 25"}', None),  # a button's payload
        ("promise_to_pay", "te pago el viernes", None),  # already right
    ],
)
def test_only_confusable_intents_are_corrected(name, text, corrected):
    assert correct(name, text) == corrected


def test_when_the_classifier_is_unsure_the_parts_decide():
    assert correct("hardship", "uff esta dificil pero te pago el viernes", 0.25) == "promise_to_pay"
    assert correct("hardship", "uff esta dificil pero te pago el viernes", 0.8) is None


COMPONENT = """
import json
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from understanding.signals import PaymentSignals
m = Message(data={TEXT: "puedo cancelar el 25 de este mes?"})
m.set(INTENT, {"name": "request_deferral", "confidence": 0.6})
m.set(INTENT_RANKING_KEY, [{"name": "request_deferral", "confidence": 0.6},
                           {"name": "promise_to_pay", "confidence": 0.3},
                           {"name": "ask_balance", "confidence": 0.1}])
[m] = PaymentSignals({}).process([m])
print(json.dumps([m.get(INTENT), m.get(INTENT_RANKING_KEY)]))
"""


def test_the_pipeline_component_puts_the_decided_intent_first():
    # In its own process: Rasa's import changes process-wide hooks the other tests rely on.
    out = subprocess.run(
        [sys.executable, "-c", COMPONENT], capture_output=True, text=True, check=True
    ).stdout
    intent, ranking = json.loads(out.strip().splitlines()[-1])
    assert intent == {"name": "promise_to_pay", "confidence": 0.95}
    assert [i["name"] for i in ranking] == ["promise_to_pay", "request_deferral", "ask_balance"]
    assert round(ranking[1]["confidence"], 4) == round(0.05 * 0.6 / 0.7, 4)  # no close runner-up
