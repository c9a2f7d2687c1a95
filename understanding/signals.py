"""The Rasa NLU component that applies understanding/rules.py after the intent classifier and
before the fallback: a corrected intent gets the confidence the classifier gave it or 0.95,
whichever is higher, so the fallback does not swallow it."""

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from understanding.rules import CONFIDENCE, correct


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class PaymentSignals(GraphComponent):
    """Corrects the classifier's intent where dates, amounts and periods decide it."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {}

    def __init__(self, config: dict[str, Any]) -> None:
        self.component_config = config

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "PaymentSignals":
        return cls(config)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._correct(message)
        return messages

    def _correct(self, message):
        decided = correct((message.get(INTENT) or {}).get("name"), message.get(TEXT))
        if decided is None:
            return
        ranking = list(message.get(INTENT_RANKING_KEY) or [])
        before = next((i["confidence"] for i in ranking if i["name"] == decided), 0.0)
        confidence = max(before, CONFIDENCE)
        ranking = [i for i in ranking if i["name"] != decided]
        ranking.insert(0, {"name": decided, "confidence": confidence})
        message.set(INTENT, {"name": decided, "confidence": confidence}, add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
