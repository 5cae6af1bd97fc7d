"""Reports: indexes for the liability and daily reports, and the rollup of closed days.

- report_daily_store: figures per account, day and store of closed days; report_rollup: how far
  each account is rolled up (`loyalty report rollup`).
- The indexes are built CONCURRENTLY so a large live database keeps taking sales meanwhile. None
  of them covers a column that spending updates (`points_lot.remaining_points`,
  `voucher.balance_minor`), so those updates stay HOT.

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-22 07:00:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SALE_REPORT_COLUMNS = [
    "retail_store_id",
    "customer_id",
    "earned_points",
    "spent_points",
    "paid_minor",
]

# (name, table, key columns, partial index predicate, covered columns)
INDEXES: tuple[tuple[str, str, list[str], str | None, list[str]], ...] = (
    (
        "ix_ledger_transaction_account_id_effective_at_expiry",
        "ledger_transaction",
        ["account_id", "effective_at"],
        "kind = 'expiry'",
        [],
    ),
    (
        "ix_ledger_entry_account_id_transaction_id_expired",
        "ledger_entry",
        ["account_id", "transaction_id", "amount_points"],
        "bucket = 'expired'",
        [],
    ),
    (
        "ix_points_lot_account_id_expires_at_live",
        "points_lot",
        ["account_id", "expires_at"],
        "state <> 'closed' AND expires_at IS NOT NULL",
        [],
    ),
    (
        "ix_points_lot_account_id_activates_at_pending",
        "points_lot",
        ["account_id", "activates_at"],
        "state = 'pending'",
        [],
    ),
    (
        "ix_sale_account_id_created_at",
        "sale",
        ["account_id", "created_at"],
        None,
        SALE_REPORT_COLUMNS,
    ),
    (
        "ix_sales_return_account_id_created_at",
        "sales_return",
        ["account_id", "created_at"],
        None,
        [],
    ),
    (
        "ix_voucher_account_id_expires_at_gift_issued",
        "voucher",
        ["account_id", "expires_at"],
        "voucher_type = 'GIFT' AND status = 'ISSUED'",
        [],
    ),
)


DAILY_FIGURES = (
    "earned_points",
    "spent_points",
    "reversed_earned_points",
    "reversed_spent_points",
    "expired_points",
    "sales_with_program_count",
    "sales_with_program_minor",
    "sales_without_program_count",
    "sales_without_program_minor",
    "returns_count",
    "returns_minor",
)


def upgrade() -> None:
    op.create_table(
        "report_daily_store",
        sa.Column("account_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("retail_store_key", sa.Text(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in DAILY_FIGURES),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            " AND ".join(f"{name} >= 0" for name in DAILY_FIGURES),
            name=op.f("ck_report_daily_store_non_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_report_daily_store_account_id_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint(
            "account_id", "day", "retail_store_key", name=op.f("pk_report_daily_store")
        ),
    )
    op.create_table(
        "report_rollup",
        sa.Column("account_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("through_day", sa.Date(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_report_rollup_account_id_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_report_rollup")),
    )
    with op.get_context().autocommit_block():
        for name, table, columns, where, covered in INDEXES:
            op.create_index(
                name,
                table,
                columns,
                postgresql_where=sa.text(where) if where else None,
                postgresql_include=covered,
                postgresql_concurrently=True,
            )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        for name, table, *_ in reversed(INDEXES):
            op.drop_index(name, table_name=table, postgresql_concurrently=True)
    op.drop_table("report_rollup")
    op.drop_table("report_daily_store")
