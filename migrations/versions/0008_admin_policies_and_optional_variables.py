"""payment policy first-payment amount and late fee; optional template variables

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 21:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("payment_policies", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "min_first_payment_minor", sa.BigInteger(), nullable=False, server_default="0"
            )
        )
        batch_op.add_column(
            sa.Column("late_fee_minor", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("late_fee_bps", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("late_fee_grace_days", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("template_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("optional", sa.JSON(), nullable=False, server_default="[]"))


def downgrade():
    with op.batch_alter_table("template_keys", schema=None) as batch_op:
        batch_op.drop_column("optional")
    with op.batch_alter_table("payment_policies", schema=None) as batch_op:
        batch_op.drop_column("late_fee_grace_days")
        batch_op.drop_column("late_fee_bps")
        batch_op.drop_column("late_fee_minor")
        batch_op.drop_column("min_first_payment_minor")
