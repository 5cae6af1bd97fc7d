"""Indexes for the reports (liability, daily figures per store).

Built CONCURRENTLY so a large live database keeps taking sales while they are built. None of them
covers a column that spending updates (`points_lot.remaining_points`, `voucher.balance_minor`),
so those updates stay HOT.

Revision ID: 0007
Revises: 0003
Create Date: 2026-11-22 07:00:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0003"
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


def upgrade() -> None:
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
