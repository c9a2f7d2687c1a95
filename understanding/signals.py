"""The Rasa NLU component that applies understanding/rules.py after the intent classifier and
before the fallback: a corrected intent gets the classifier's highest confidence or 0.95,
whichever is higher, and the others share the rest, so the fallback does not swallow it."""

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
        intent = message.get(INTENT) or {}
        decided = correct(intent.get("name"), message.get(TEXT), intent.get("confidence", 1.0))
        if decided is None:
            return
        ranking = list(message.get(INTENT_RANKING_KEY) or [])
        confidence = max([CONFIDENCE] + [i["confidence"] for i in ranking])
        others = [i for i in ranking if i["name"] != decided]
        # The others share what is left, in their order: no runner-up comes close enough for
        # the fallback to call it ambiguous.
        total = sum(i["confidence"] for i in others) or 1.0
        ranking = [{"name": decided, "confidence": confidence}] + [
            {"name": i["name"], "confidence": i["confidence"] / total * (1 - confidence)}
            for i in others
        ]
        message.set(INTENT, {"name": decided, "confidence": confidence}, add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
