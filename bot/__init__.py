"""WhatsApp collections bot: the Flask app factory.

Packages depend one way (tests/unit/test_layout.py checks it):
  config, db, redis, clock, models, ... (the base)
  <- templates, contact <- outbound <- conversations <- payments <- debts <- reminders
  <- web, tasks, cli (the only places that serve requests, run jobs or enqueue them).
Cross-domain reactions are hooks (bot.hooks), wired below.
"""

import logging

from flask import Flask

from bot import logs
from bot.config import load_config
from bot.db import Database


def create_app(config=None, web=True):
    """Build the app from the environment; config (a dict) overrides it, for tests.

    web=False builds the worker's app (`flask --app "bot:create_app(web=False)" worker`): the
    same configuration, database, hooks and commands, without the web tier (webhooks, pay
    page, the consoles and their Babel, charts and forms), which the worker never serves and
    which cost it ~600 modules and tens of MiB.
    """
    app = Flask(
        __name__,
        instance_relative_config=False,
        template_folder="web/templates",
        static_folder="web/static",
    )
    settings = load_config(config)
    app.config.update(settings)
    app.config["MAX_CONTENT_LENGTH"] = 256 * 1024
    logs.configure(settings["LOG_LEVEL"], settings["LOG_FORMAT"])
    # The twilio client logs request parameters (full phone numbers) at INFO.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    Database(settings["DATABASE_URL"]).init_app(app)
    _check_contact_data(settings)

    from bot import cli
    from bot.tasks import queues

    queues.init_app(app)
    _wire_hooks()
    if web:
        from bot import web as web_tier
        from bot.metrics import QueueCollector

        web_tier.init_app(app, collectors=[QueueCollector(settings["REDIS_URL"], queues.ALL)])
    cli.init_app(app)
    return app


def _check_contact_data(settings):
    """Fail at start, loudly, on time-zone data older than the packs assume or a pack file that
    cannot be read: never at 3 a.m. on a debtor's message."""
    from bot.contact import packs, zones

    zones.check_tzdata()
    packs.load_packs(settings.get("CONTACT_PACKS_DIR") or None)


def _wire_hooks():
    """Who reacts to what, in one place (connecting twice is harmless)."""
    from bot import hooks
    from bot.conversations import escalation
    from bot.payments import autodebit, documents, notify
    from bot.reminders import reactions

    # A payment cancels the reminders it made pointless, then the debtor is thanked, then the
    # PDF receipt (and the paz y salvo once nothing is owed) follows.
    hooks.payment_applied.connect(reactions.on_payment)
    hooks.payment_applied.connect(notify.send_thanks)
    hooks.payment_applied.connect(documents.on_payment)
    # A charged-back auto-debit: its card is not charged again until the debtor saves one.
    hooks.payment_reversed.connect(autodebit.on_payment_reversed)
    # A refused message: a reminder's 63016 falls back to SMS; anything else needs a person.
    hooks.delivery_failed.connect(reactions.on_delivery_failed)
    hooks.delivery_failed.connect(escalation.on_delivery_failed)
    # An agent hands a conversation back: the reminders that waited for them go again.
    hooks.conversation_released.connect(reactions.on_conversation_released)
