"""the ledger, fees and interest, policy versions, partial payments and settlements

Opens a ledger for every existing account: the opening charge is its amount due, each plan fee
is a fee entry, and each existing payment is posted as entries (fees first, then principal; what
exceeded the debt as the debtor's credit; a pay-in-full discount as a discount entry), so the
balance becomes the sum of the entries.

Revision ID: 0010_ledger
Revises: 0009
Create Date: 2026-11-30 12:00:00
"""

from datetime import date, datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0012_ledger"
down_revision = "0011_resilience"
branch_labels = None
depends_on = None

EPOCH = date(2000, 1, 1)
POLICY_COLUMNS = [
    ("allocation_order", sa.String(length=32), "fee,interest,principal"),
    ("interest_rate_bps", sa.Integer(), "0"),
    ("interest_max_rate_bps", sa.Integer(), "0"),
    ("interest_max_total_bps", sa.Integer(), "0"),
    ("interest_basis", sa.Integer(), "365"),
    ("interest_grace_days", sa.Integer(), "0"),
    ("min_partial_minor", sa.BigInteger(), "0"),
    ("settlement_offer_pct", sa.Integer(), "0"),
    ("settlement_min_pct", sa.Integer(), "0"),
    ("settlement_valid_days", sa.Integer(), "0"),
    ("settlement_min_days_overdue", sa.Integer(), "0"),
]


def _portfolio_unique(batch_op):
    if op.get_bind().dialect.name == "sqlite":
        return "uq_payment_policies_portfolio"  # named by the naming convention below
    return "payment_policies_portfolio_key"  # PostgreSQL's name for an unnamed UNIQUE


def upgrade():
    bigid = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "ledger_entries",
        sa.Column("id", bigid, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("bucket", sa.String(length=16), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("key", sa.String(length=96), nullable=True),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.Column("reverses_id", bigid, nullable=True),
        sa.Column("policy_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("memo", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"]),
        sa.ForeignKeyConstraint(["reverses_id"], ["ledger_entries.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "key", name="uq_ledger_entry_key"),
    )
    op.create_table(
        "ledger_balances",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("principal_minor", sa.BigInteger(), nullable=False),
        sa.Column("interest_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("credit_minor", sa.BigInteger(), nullable=False),
        sa.Column("interest_charged_minor", sa.BigInteger(), nullable=False),
        sa.Column("accrued_through", sa.Date(), nullable=True),
        sa.Column("carry_nano", sa.BigInteger(), nullable=False),
        sa.Column("late_fee_for", sa.Date(), nullable=True),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("account_id"),
    )
    op.create_table(
        "settlements",
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("balance_minor", sa.BigInteger(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("pct", sa.Integer(), nullable=False),
        sa.Column("agreed_on", sa.Date(), nullable=False),
        sa.Column("pay_by", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("paid_minor", sa.BigInteger(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=True),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_settlements_account_id", "settlements", ["account_id"])
    with op.batch_alter_table("installments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("late_fee_minor", sa.BigInteger(), nullable=True))
    with op.batch_alter_table(
        "payment_policies",
        schema=None,
        naming_convention={"uq": "uq_%(table_name)s_%(column_0_name)s"},
    ) as batch_op:
        batch_op.add_column(
            sa.Column("effective_from", sa.Date(), nullable=False, server_default=EPOCH.isoformat())
        )
        for name, kind, default in POLICY_COLUMNS:
            batch_op.add_column(sa.Column(name, kind, nullable=False, server_default=default))
        batch_op.drop_constraint(_portfolio_unique(batch_op), type_="unique")
        batch_op.create_unique_constraint(
            "uq_payment_policy_version", ["portfolio", "effective_from"]
        )
    _open_ledgers()


def _open_ledgers():
    """Post every existing account's history as entries and set its balance to their sum."""
    bind = op.get_bind()
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    today = now.date()
    accounts = bind.execute(
        sa.text("SELECT id, currency, amount_due_minor, created_at FROM accounts ORDER BY id")
    ).all()
    fees = {}
    for account_id, fee, created in bind.execute(
        sa.text("SELECT account_id, fee_minor, created_at FROM payment_plans WHERE fee_minor > 0")
    ):
        fees.setdefault(account_id, []).append((int(fee), _day(created, today)))
    payments = {}
    for row in bind.execute(
        sa.text(
            "SELECT id, account_id, amount_minor, discount_minor, received_at FROM payments "
            "ORDER BY received_at, id"
        )
    ):
        payments.setdefault(row.account_id, []).append(row)
    entries = sa.table(
        "ledger_entries",
        *(
            sa.column(c)
            for c in (
                "account_id",
                "kind",
                "bucket",
                "amount_minor",
                "currency",
                "effective_date",
                "key",
                "payment_id",
                "actor",
                "memo",
                "created_at",
            )
        ),
    )
    balances = sa.table(
        "ledger_balances",
        *(
            sa.column(c)
            for c in (
                "account_id",
                "principal_minor",
                "interest_minor",
                "fee_minor",
                "credit_minor",
                "interest_charged_minor",
                "accrued_through",
                "carry_nano",
                "opened_on",
            )
        ),
    )
    rows, sums = [], []
    for account_id, currency, amount_due, created in accounts:

        def entry(
            kind,
            bucket,
            amount,
            day,
            key,
            payment_id=None,
            memo=None,
            account_id=account_id,
            currency=currency,
        ):
            rows.append(
                {
                    "account_id": account_id,
                    "kind": kind,
                    "bucket": bucket,
                    "amount_minor": amount,
                    "currency": currency,
                    "effective_date": day,
                    "key": key,
                    "payment_id": payment_id,
                    "actor": "migration",
                    "memo": memo,
                    "created_at": now,
                }
            )

        owed = {"principal": int(amount_due), "fee": 0}
        credit = 0
        if amount_due:
            entry(
                "charge",
                "principal",
                int(amount_due),
                _day(created, today),
                "opening",
                memo="opening balance",
            )
        for n, (fee, day) in enumerate(fees.get(account_id, ())):
            owed["fee"] += fee
            entry("fee", "fee", fee, day, f"plan_fee:migrated:{n}", memo="plan fee")
        for p in payments.get(account_id, ()):
            day = _day(p.received_at, today)
            left = int(p.amount_minor)
            for bucket in ("fee", "principal"):
                part = min(left, owed[bucket])
                if part:
                    owed[bucket] -= part
                    left -= part
                    entry("payment", bucket, -part, day, f"payment:{p.id}:{bucket}", p.id)
            if left:
                credit -= left
                entry("payment", "credit", -left, day, f"payment:{p.id}:credit", p.id)
            discount = min(int(p.discount_minor or 0), owed["principal"] + owed["fee"])
            for bucket in ("principal", "fee"):
                part = min(discount, owed[bucket])
                if part:
                    owed[bucket] -= part
                    discount -= part
                    entry("discount", bucket, -part, day, f"discount:{p.id}:{bucket}", p.id)
        sums.append(
            {
                "account_id": account_id,
                "principal_minor": owed["principal"],
                "interest_minor": 0,
                "fee_minor": owed["fee"],
                "credit_minor": credit,
                "interest_charged_minor": 0,
                "accrued_through": today,
                "carry_nano": 0,
                "opened_on": today,
            }
        )
        bind.execute(
            sa.text("UPDATE accounts SET balance_minor = :b WHERE id = :id"),
            {"b": owed["principal"] + owed["fee"], "id": account_id},
        )
    if rows:
        op.bulk_insert(entries, rows)
    if sums:
        op.bulk_insert(balances, sums)


def _day(value, default):
    if value is None:
        return default
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.date() if isinstance(value, datetime) else value


def downgrade():
    bind = op.get_bind()
    # One version per portfolio again: the newest that has taken effect (else the oldest).
    today = datetime.now(timezone.utc).date()
    keep = {}
    for row in bind.execute(
        sa.text(
            "SELECT id, portfolio, effective_from FROM payment_policies ORDER BY effective_from"
        )
    ):
        effective = _day(row.effective_from, today)
        if row.portfolio not in keep or effective <= today:
            keep[row.portfolio] = row.id
    if keep:
        bind.execute(
            sa.text("DELETE FROM payment_policies WHERE id NOT IN :ids").bindparams(
                sa.bindparam("ids", expanding=True)
            ),
            {"ids": list(keep.values())},
        )
    bind.execute(sa.text("UPDATE installments SET status = 'due' WHERE status = 'late'"))
    with op.batch_alter_table(
        "payment_policies",
        schema=None,
        naming_convention={"uq": "uq_%(table_name)s_%(column_0_name)s"},
    ) as batch_op:
        batch_op.drop_constraint("uq_payment_policy_version", type_="unique")
        for name, _kind, _default in reversed(POLICY_COLUMNS):
            batch_op.drop_column(name)
        batch_op.drop_column("effective_from")
        batch_op.create_unique_constraint(_portfolio_unique(batch_op), ["portfolio"])
    with op.batch_alter_table("installments", schema=None) as batch_op:
        batch_op.drop_column("late_fee_minor")
    op.drop_index("ix_settlements_account_id", table_name="settlements")
    op.drop_table("settlements")
    op.drop_table("ledger_balances")
    op.drop_table("ledger_entries")
