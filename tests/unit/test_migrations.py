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
        assert {"experiments", "analytics_daily", "message_prices"} <= tables
        assert "locale" in {c["name"] for c in inspect(engine).get_columns("users")}
        assert {"portfolios", "contact_requests", "nlu_reviews"} <= tables
        debtors = {c["name"] for c in inspect(engine).get_columns("debtors")}
        assert {"region", "opted_out_email_at", "opt_out_scope_asked_at"} <= debtors
        assert {"preferred_channel", "email_undeliverable_at"} <= debtors
        assert {"email_templates", "email_events"} <= tables
        assert {"subject", "html"} <= columns
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
        before = ScriptDirectory.from_config(cfg).get_revision("0013_compliance").down_revision
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


def test_the_ledger_migration_opens_a_ledger_for_existing_accounts(app, tmp_path):
    """0010: the amount due is the opening charge, plan fees and payments become entries, and
    each balance is the sum of its entries; a downgrade keeps one policy per portfolio."""
    from sqlalchemy import text

    from bot.ledger import entries as ledger_entries
    from bot.models import Account

    url = f"sqlite:///{tmp_path / 'l.db'}"
    with app.app_context():
        app.config["DATABASE_URL"] = url
        cfg = alembic_config()
        cfg.attributes["configure_logger"] = False
        command.upgrade(cfg, "0011_resilience")
        engine = create_engine(url)
        now = "2026-11-01 10:00:00"
        with engine.begin() as c:
            c.execute(
                text(
                    "INSERT INTO debtors (id, full_name, phone, locale, country, id_secret_hash, "
                    "id_secret_salt, created_at, updated_at) VALUES "
                    "(1, 'A', '+573000000001', 'es', 'CO', 'h', 's', :t, :t)"
                ),
                {"t": now},
            )
            for account_id, due, balance in ((1, 100_000, 40_000), (2, 50_000, 0)):
                c.execute(
                    text(
                        "INSERT INTO accounts (id, debtor_id, external_id, currency, "
                        "amount_due_minor, balance_minor, due_date, status, created_at, "
                        "updated_at) VALUES (:id, 1, :ref, 'COP', :due, :bal, '2026-10-01', "
                        "'open', :t, :t)"
                    ),
                    {
                        "id": account_id,
                        "ref": f"M-{account_id}",
                        "due": due,
                        "bal": balance,
                        "t": now,
                    },
                )
            c.execute(
                text(
                    "INSERT INTO payment_plans (id, account_id, status, total_minor, fee_minor, "
                    "created_by, created_at, updated_at) VALUES (1, 1, 'active', 101000, 1000, "
                    "'x', :t, :t)"
                ),
                {"t": now},
            )
            payments = [
                (1, 1, 60_000, 0, 0),  # fee first, then principal
                (2, 2, 45_000, 0, 5_000),  # a paid discount settles the rest
                (3, 2, 1_000, 1_000, 0),  # all surplus: the debtor's credit
            ]
            for pid, account_id, amount, surplus, discount in payments:
                c.execute(
                    text(
                        "INSERT INTO payments (id, account_id, amount_minor, currency, provider, "
                        "provider_ref, status, received_at, surplus_minor, discount_minor) "
                        "VALUES (:id, :a, :m, 'COP', 'x', :ref, 'succeeded', :t, :s, :d)"
                    ),
                    {
                        "id": pid,
                        "a": account_id,
                        "m": amount,
                        "ref": f"r{pid}",
                        "t": now,
                        "s": surplus,
                        "d": discount,
                    },
                )
        command.upgrade(cfg, "head")
        from sqlalchemy.orm import Session

        with Session(engine) as s:
            assert ledger_entries.verify(s) == []
            first, second = s.get(Account, 1), s.get(Account, 2)
            # 100,000 + 1,000 plan fee - 60,000 paid (the fee first).
            assert first.balance_minor == 41_000
            assert second.balance_minor == 0
            credit = s.execute(
                text("SELECT credit_minor FROM ledger_balances WHERE account_id = 2")
            ).scalar()
            assert credit == -1_000
        with engine.begin() as c:
            c.execute(
                text(
                    "INSERT INTO payment_policies (portfolio, effective_from, created_at, "
                    "updated_at, max_installments, min_first_payment_pct, min_installment_minor, "
                    "plan_fee_bps, max_promise_days, max_deferral_days, discount_max_pct, "
                    "discount_valid_days) VALUES ('default', '2099-01-01', :t, :t, 6, 10, 0, 0, "
                    "15, 30, 0, 0)"
                ),
                {"t": now},
            )
        command.downgrade(cfg, "0011_resilience")
        with engine.begin() as c:
            rows = c.execute(text("SELECT max_installments FROM payment_policies")).all()
        assert rows == [(12,)]  # the version in force kept, the future one dropped
        command.upgrade(cfg, "head")
        engine.dispose()
