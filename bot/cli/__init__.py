"""Command-line interface: `flask --app bot <command>` (the top layer: it may use every package)."""

from bot.cli import (
    autodebit,
    compliance,
    ledger,
    portfolios,
    reminders,
    results,
    setup,
    templates,
    users,
    work,
)

COMMANDS = (
    setup.import_debts,
    setup.db_upgrade,
    setup.seed_templates,
    setup.load_demo,
    setup.dev_redis,
    setup.announce,
    setup.rasa_token,
    work.worker,
    work.sweep_command,
    users.create_user,
    users.deactivate_user,
    templates.export_templates_command,
    templates.import_templates_command,
    reminders.reminders_group,
    reminders.campaign_group,
    results.analytics_rollup,
    autodebit.autodebit_group,
    portfolios.portfolio_set,
    ledger.ledger_group,
    compliance.compliance_group,
)


def init_app(app):
    for command in COMMANDS:
        app.cli.add_command(command)
