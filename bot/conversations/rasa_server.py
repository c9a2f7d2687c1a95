"""Start Rasa's own CLI with a cheaper action-result check:
`python -m bot.conversations.rasa_server run ...`.

Rasa 3.6's `RemoteAction._validate_action_result` calls `jsonschema.validate` on every answer of
the action server, which checks the (constant) schema against the metaschema and builds a new
validator each time: most of Rasa's CPU per turn. Here the validator is built once and each
answer checked with it exactly as `jsonschema.validate` does (same validator class, same
best-matching error, the same text added by Rasa, the same exception raised).

Only Rasa and the standard library are imported: this is the Rasa process, not the bot's.
"""

import sys


def install_cached_action_result_validator():
    """Make RemoteAction check action-server answers with a validator built once."""
    from jsonschema import exceptions, validators
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    if not hasattr(RemoteAction, "_validate_action_result"):
        raise RuntimeError("this Rasa has no RemoteAction._validate_action_result to replace")
    schema = RemoteAction.action_response_format_spec()
    # What jsonschema.validate(result, schema) does on every call, done once.
    cls = validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema)

    def _validate_action_result(self, result):
        error = exceptions.best_match(validator.iter_errors(result))
        if error is None:
            return True
        error.message += (
            f". Failed to validate Action server response from API, "
            f"make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise error

    RemoteAction._validate_action_result = _validate_action_result


def main(argv=None):
    """Install the validator, then run Rasa's CLI with these arguments (default: sys.argv)."""
    install_cached_action_result_validator()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *(sys.argv[1:] if argv is None else argv)]
    rasa_main()


if __name__ == "__main__":
    main()
