"""refunds: the charge a refund names, a refunded amount, revoked documents

Revision ID: 0014_refunds
Revises: 0013_compliance
Create Date: 2026-12-01 15:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_refunds"
down_revision = "0013_compliance"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("intent_ref", sa.String(length=128), nullable=True))
        batch.create_index("ix_payments_intent_ref", ["intent_ref"])
    with op.batch_alter_table("payment_events") as batch:
        batch.add_column(sa.Column("amount_minor", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("revoked_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("revoked_reason", sa.String(length=32), nullable=True))


def downgrade():
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("revoked_reason")
        batch.drop_column("revoked_at")
    with op.batch_alter_table("payment_events") as batch:
        batch.drop_column("amount_minor")
    with op.batch_alter_table("payments") as batch:
        batch.drop_index("ix_payments_intent_ref")
        batch.drop_column("intent_ref")
