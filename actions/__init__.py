"""Rasa custom actions: thin adapters over the bot's domain services."""
