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
        tables = set(inspect(engine).get_table_names())
        assert {"consent_records", "contact_events", "holiday_overrides"} <= tables
        debtors = {c["name"] for c in inspect(engine).get_columns("debtors")}
        assert {"region", "opted_out_email_at", "opt_out_scope_asked_at"} <= debtors
        engine.dispose()


def test_0010_carries_existing_opt_outs_and_locks_over(app, tmp_path):
    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'old.db'}"
    with app.app_context():
        app.config["DATABASE_URL"] = url
        cfg = alembic_config()
        cfg.attributes["configure_logger"] = False
        from alembic.script import ScriptDirectory

        # The revision before this one (re-chained when branches merge).
        before = ScriptDirectory.from_config(cfg).get_revision("0010_compliance").down_revision
        command.upgrade(cfg, before)
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO debtors (id, full_name, phone, locale, country, timezone,"
                    " id_secret_hash, id_secret_salt, opted_out_sms_at, created_at, updated_at)"
                    " VALUES (1, 'A', '+573001234567', 'es-CO', 'CO', 'America/Bogota', 'h', 's',"
                    " '2026-11-01 10:00:00', '2026-11-01', '2026-11-01')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO conversations (id, channel, address, debtor_id, state,"
                    " verification_failures, needs_agent, bot_paused, locked_until, created_at,"
                    " updated_at) VALUES (1, 'whatsapp', '+573001234567', 1, 'bot', 0, 0, 0,"
                    " '2026-11-02 10:30:00', '2026-11-01', '2026-11-01')"
                )
            )
        command.upgrade(cfg, "head")
        with engine.connect() as conn:
            consent = conn.execute(
                text("SELECT channel, action, method FROM consent_records")
            ).all()
            locked_at = conn.execute(text("SELECT locked_at FROM conversations")).scalar()
            zone = conn.execute(text("SELECT timezone FROM debtors")).scalar()
            policies = conn.execute(text("SELECT country FROM contact_rules")).scalars().all()
        assert consent == [("sms", "revoked", "chat")]
        assert str(locked_at).startswith("2026-11-02 10:00")
        assert zone is None  # the number's zone, stored by the old import: now read each time
        assert {"PE", "AR"} <= set(policies)
        command.downgrade(cfg, before)
        engine.dispose()
