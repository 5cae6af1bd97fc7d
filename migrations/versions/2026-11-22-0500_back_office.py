"""Back office: customer status (blocked, merged, erased) and ledger kinds for transfers and
merges.

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-22 05:00:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = "'sale', 'return', 'welcome', 'adjustment', 'activation', 'expiry'"
NEW_KINDS = OLD_KINDS + ", 'transfer', 'merge'"


def upgrade() -> None:
    op.add_column(
        "customer", sa.Column("status", sa.Text(), server_default="active", nullable=False)
    )
    op.add_column(
        "customer", sa.Column("merged_into_id", postgresql.UUID(as_uuid=True), nullable=True)
    )
    op.add_column(
        "customer",
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_check_constraint(
        op.f("ck_customer_status"),
        "customer",
        "status IN ('active', 'blocked', 'merged', 'erased')",
    )
    op.create_check_constraint(
        op.f("ck_customer_merged_into"),
        "customer",
        "(status = 'merged') = (merged_into_id IS NOT NULL) AND merged_into_id IS DISTINCT FROM id",
    )
    op.create_foreign_key(
        op.f("fk_customer_account_id_merged_into_id_customer"),
        "customer",
        "customer",
        ["account_id", "merged_into_id"],
        ["account_id", "id"],
        ondelete="RESTRICT",
    )
    op.drop_constraint(op.f("ck_ledger_transaction_kind"), "ledger_transaction", type_="check")
    op.create_check_constraint(
        op.f("ck_ledger_transaction_kind"), "ledger_transaction", f"kind IN ({NEW_KINDS})"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_ledger_transaction_kind"), "ledger_transaction", type_="check")
    op.create_check_constraint(
        op.f("ck_ledger_transaction_kind"), "ledger_transaction", f"kind IN ({OLD_KINDS})"
    )
    op.drop_constraint(
        op.f("fk_customer_account_id_merged_into_id_customer"), "customer", type_="foreignkey"
    )
    op.drop_constraint(op.f("ck_customer_merged_into"), "customer", type_="check")
    op.drop_constraint(op.f("ck_customer_status"), "customer", type_="check")
    op.drop_column("customer", "status_changed_at")
    op.drop_column("customer", "merged_into_id")
    op.drop_column("customer", "status")
