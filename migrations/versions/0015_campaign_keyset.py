"""campaign keyset: the due index carries the id, the sent message is found by index

Revision ID: 0015_campaign_keyset
Revises: 0014_refunds
Create Date: 2026-11-30 15:00:00

Dispatch pages through due reminders by (status, due_at, id); with the id in the index each
batch reads only its own rows on PostgreSQL too (SQLite already appends the rowid). A 63016
refusal finds the reminder that sent the message by scheduled_messages.message_id, which
was a full scan.
"""

from alembic import op

revision = "0015_campaign_keyset"
down_revision = "0014_refunds"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("scheduled_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_scheduled_due")
        batch_op.create_index("ix_scheduled_due", ["status", "due_at", "id"], unique=False)
        batch_op.create_index("ix_scheduled_message", ["message_id"], unique=False)


def downgrade():
    with op.batch_alter_table("scheduled_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_scheduled_message")
        batch_op.drop_index("ix_scheduled_due")
        batch_op.create_index("ix_scheduled_due", ["status", "due_at"], unique=False)
