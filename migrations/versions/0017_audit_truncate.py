"""audit_truncate: TRUNCATE refused on audit_events (PostgreSQL), as UPDATE and DELETE are

TRUNCATE fires no row trigger, so the append-only trigger of 0001 let it empty the audit trail.
SQLite has no TRUNCATE (DELETE without WHERE fires the row triggers it already has).

Revision ID: 0017_audit_truncate
Revises: 0016_email
Create Date: 2026-11-30 15:20:00.000000
"""

from alembic import op

revision = "0017_audit_truncate"
down_revision = "0016_email"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        # The function of 0001 raises "audit events are append-only" for any trigger.
        op.execute(
            "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()"
        )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
