"""Rasa NLU components of the bot (dialogue/config.yml names them by dotted path)."""
