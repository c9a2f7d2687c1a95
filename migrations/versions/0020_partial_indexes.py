"""partial indexes: every periodic query reads only the rows it is about

Revision ID: 0020_partial_indexes
Revises: 0019_conversation
Create Date: 2026-11-30 18:40:00

At 1M debtors (4M messages) the sweep, run every 30 s, scanned the messages table for the few
unanswered or unsent ones, and the agents' queue, polled every few seconds by each open
console, scanned every conversation (an OR across two columns). Each gets a partial index over
exactly its rows (bench/pg_plans.py), as do failed messages (the sweep's retries after an
outage) and pending promises (the reminders tick). SQLite supports partial indexes as well.
"""

import sqlalchemy as sa
from alembic import op

revision = "0020_partial_indexes"
down_revision = "0019_conversation"
branch_labels = None
depends_on = None

# (name, table, columns, predicate): the same as on the models (bot/models/).
INDEXES = (
    ("ix_conversations_agents", "conversations", ["id"], "needs_agent IS true OR state = 'agent'"),
    ("ix_messages_unsent", "messages", ["id"], "status IN ('received', 'pending', 'sending')"),
    ("ix_messages_failed", "messages", ["created_at"], "status = 'failed'"),
    ("ix_promises_pending", "promises", ["promised_date"], "status = 'pending'"),
)


def upgrade():
    for name, table, columns, where in INDEXES:
        op.create_index(
            name, table, columns, postgresql_where=sa.text(where), sqlite_where=sa.text(where)
        )


def downgrade():
    for name, table, _columns, _where in reversed(INDEXES):
        op.drop_index(name, table_name=table)
