"""email as a third channel: addresses in conversations, subject and HTML of a message,
e-mail templates per key and locale, the debtor's preferred channel, undeliverable addresses,
and the provider events (inbound, bounces, complaints) stored once

Revision ID: 0016_email
Revises: 0015_campaign_keyset
Create Date: 2026-11-30 15:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_email"
down_revision = "0015_campaign_keyset"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        # An e-mail address (254 characters at most, RFC 5321) beside E.164 numbers.
        batch_op.alter_column(
            "address", existing_type=sa.String(length=20), type_=sa.String(length=254)
        )
    with op.batch_alter_table("sandbox_messages", schema=None) as batch_op:
        batch_op.alter_column("to", existing_type=sa.String(length=40), type_=sa.String(length=254))
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("html", sa.Text(), nullable=True))
    with op.batch_alter_table("debtors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("preferred_channel", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("email_undeliverable_at", sa.DateTime(), nullable=True))
    op.create_table(
        "email_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["key"], ["template_keys.key"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key", "locale", "version", name="uq_email_template_version"),
    )
    op.create_table(
        "email_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=True),
        sa.Column("debtor_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.String(length=512), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["debtor_id"], ["debtors.id"]),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", name="uq_email_event"),
    )


def downgrade():
    op.drop_table("email_events")
    op.drop_table("email_templates")
    with op.batch_alter_table("debtors", schema=None) as batch_op:
        batch_op.drop_column("email_undeliverable_at")
        batch_op.drop_column("preferred_channel")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("html")
        batch_op.drop_column("subject")
    op.execute(
        "DELETE FROM messages WHERE conversation_id IN "
        "(SELECT id FROM conversations WHERE channel = 'email')"
    )
    op.execute("DELETE FROM conversations WHERE channel = 'email'")
    op.execute('DELETE FROM sandbox_messages WHERE length("to") > 40')
    with op.batch_alter_table("sandbox_messages", schema=None) as batch_op:
        batch_op.alter_column("to", existing_type=sa.String(length=254), type_=sa.String(length=40))
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.alter_column(
            "address", existing_type=sa.String(length=254), type_=sa.String(length=20)
        )
