from alembic import command
from sqlalchemy import create_engine, inspect

from bot.cli.setup import alembic_config


def test_migrations_upgrade_downgrade_upgrade(app, tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    with app.app_context():
        app.config["DATABASE_URL"] = url
        cfg = alembic_config()
        cfg.attributes["configure_logger"] = False
        command.upgrade(cfg, "head")
        command.downgrade(cfg, "base")
        engine = create_engine(url)
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        command.upgrade(cfg, "head")
        columns = {c["name"] for c in inspect(engine).get_columns("messages")}
        assert {"buttons", "provider_sid", "reply_to_id"} <= columns
        engine.dispose()
