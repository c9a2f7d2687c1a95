"""compliance: consent register, holiday overrides, contact log, address zone and region

Revision ID: 0013_compliance
Revises: 0012_ledger
Create Date: 2026-12-01 09:00:00
"""

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from alembic import op

revision = "0013_compliance"
down_revision = "0012_ledger"
branch_labels = None
depends_on = None

# Creditor policies for the countries that got a pack in this revision (copied, not imported:
# the migration never changes with the code). Hours {} leave the law's hours.
NEW_POLICIES = [("PE", 1, 3), ("AR", 1, 2)]


def upgrade():
    op.create_table(
        "consent_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("debtor_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["debtor_id"], ["debtors.id"]),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.create_index("ix_consent_debtor", ["debtor_id", "channel", "id"], unique=False)
    op.create_table(
        "holiday_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("subdivision", sa.String(length=8), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("country", "subdivision", "day", name="uq_holiday_override"),
    )
    op.create_table(
        "contact_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("debtor_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("scheduled_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("rule", sa.String(length=128), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("template_key", sa.String(length=128), nullable=True),
        sa.Column("template_version", sa.Integer(), nullable=True),
        sa.Column("locale", sa.String(length=16), nullable=True),
        sa.Column("zones", sa.String(length=256), nullable=True),
        sa.Column("local_times", sa.String(length=512), nullable=True),
        sa.Column("pack", sa.String(length=32), nullable=True),
        sa.Column("next_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["debtor_id"], ["debtors.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("contact_events", schema=None) as batch_op:
        batch_op.create_index("ix_contact_events_at", ["at"], unique=False)
        batch_op.create_index("ix_contact_events_debtor", ["debtor_id", "at"], unique=False)

    with op.batch_alter_table("debtors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("region", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("opted_out_email_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("opt_out_scope_asked_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("opt_out_scope_answered_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locked_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("consent_asked_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("scheduled_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_step", sa.String(length=64), nullable=True))
    with op.batch_alter_table("contact_rules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("regime", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("require_consent", sa.Boolean(), nullable=False, server_default=sa.false())
        )

    # Until now the import stored the number's own zone as the debtor's zone, which then hid
    # the number's other zones (issue 12). The column now means the address's zone only.
    op.execute("UPDATE debtors SET timezone = NULL")
    # The lock time of conversations locked so far (locks last 30 minutes).
    bind = op.get_bind()
    for row_id, until in bind.execute(
        sa.text("SELECT id, locked_until FROM conversations WHERE locked_until IS NOT NULL")
    ).all():
        if isinstance(until, str):
            until = datetime.fromisoformat(until)
        bind.execute(
            sa.text("UPDATE conversations SET locked_at = :at WHERE id = :id"),
            {"at": until - timedelta(minutes=30), "id": row_id},
        )

    now = datetime.now(timezone.utc).replace(tzinfo=None)
    # Opt-outs recorded before the register: their words were not kept.
    consents = sa.table(
        "consent_records",
        *(
            sa.column(name)
            for name in (
                "debtor_id",
                "channel",
                "action",
                "scope",
                "at",
                "method",
                "evidence",
                "recorded_by",
                "recorded_at",
            )
        ),
    )
    rows = []
    for channel in ("whatsapp", "sms"):
        for debtor_id, at in bind.execute(
            sa.text(
                f"SELECT id, opted_out_{channel}_at FROM debtors "
                f"WHERE opted_out_{channel}_at IS NOT NULL"
            )
        ).all():
            if isinstance(at, str):
                at = datetime.fromisoformat(at)
            rows.append(
                {
                    "debtor_id": debtor_id,
                    "channel": channel,
                    "action": "revoked",
                    "scope": "channel",
                    "at": at,
                    "method": "chat",
                    "evidence": "(recorded before the consent register; the words were not kept)",
                    "recorded_by": "migration",
                    "recorded_at": now,
                }
            )
    if rows:
        op.bulk_insert(consents, rows)

    rules = sa.table(
        "contact_rules",
        *(
            sa.column(name)
            for name in (
                "country",
                "skip_holidays",
                "max_per_day",
                "max_per_week",
                "min_gap_hours",
                "sms_fallback",
                "require_consent",
                "created_at",
                "updated_at",
            )
        ),
        sa.column("hours", sa.JSON),
    )
    existing = {r[0] for r in bind.execute(sa.text("SELECT country FROM contact_rules")).all()}
    op.bulk_insert(
        rules,
        [
            {
                "country": country,
                "hours": {},
                "skip_holidays": False,
                "max_per_day": day,
                "max_per_week": week,
                "min_gap_hours": 0,
                "sms_fallback": True,
                "require_consent": False,
                "created_at": now,
                "updated_at": now,
            }
            for country, day, week in NEW_POLICIES
            if country not in existing
        ],
    )


def downgrade():
    op.execute("DELETE FROM contact_rules WHERE country IN ('PE', 'AR')")
    with op.batch_alter_table("contact_rules", schema=None) as batch_op:
        batch_op.drop_column("require_consent")
        batch_op.drop_column("regime")
    with op.batch_alter_table("scheduled_messages", schema=None) as batch_op:
        batch_op.drop_column("next_step")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("consent_asked_at")
        batch_op.drop_column("locked_at")
    with op.batch_alter_table("debtors", schema=None) as batch_op:
        batch_op.drop_column("opt_out_scope_answered_at")
        batch_op.drop_column("opt_out_scope_asked_at")
        batch_op.drop_column("opted_out_email_at")
        batch_op.drop_column("region")
    with op.batch_alter_table("contact_events", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_events_debtor")
        batch_op.drop_index("ix_contact_events_at")
    op.drop_table("contact_events")
    op.drop_table("holiday_overrides")
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_debtor")
    op.drop_table("consent_records")
