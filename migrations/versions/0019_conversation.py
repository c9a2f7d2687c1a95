"""conversation: portfolios' voice, contact requests, NLU reviews

Revision ID: 0019_conversation
Revises: 0018_results
Create Date: 2026-11-30 14:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0019_conversation"
down_revision = "0018_results"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "portfolios",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("register", sa.String(length=8), nullable=True),
        sa.Column("creditor_name", sa.String(length=120), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "contact_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("debtor_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("words", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.ForeignKeyConstraint(["debtor_id"], ["debtors.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_contact_requests_conversation_id", "contact_requests", ["conversation_id"])
    op.create_index("ix_contact_requests_debtor_id", "contact_requests", ["debtor_id"])
    op.create_table(
        "nlu_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("predicted", sa.String(length=64), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("fell_back", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=True),
        sa.Column("labelled_by", sa.String(length=64), nullable=True),
        sa.Column("labelled_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
    )
    op.create_index("ix_nlu_reviews_created_at", "nlu_reviews", ["created_at"])


def downgrade():
    op.drop_index("ix_nlu_reviews_created_at", table_name="nlu_reviews")
    op.drop_table("nlu_reviews")
    op.drop_index("ix_contact_requests_debtor_id", table_name="contact_requests")
    op.drop_index("ix_contact_requests_conversation_id", table_name="contact_requests")
    op.drop_table("contact_requests")
    op.drop_table("portfolios")
