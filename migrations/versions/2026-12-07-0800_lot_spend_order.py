"""Lots in spend order: a spend reads the few lots it draws from through this index, however
many lots the customer holds (soonest-expiring first, non-expiring last, then oldest; the same
order as `ledger.rules.spend_order_key`). Built CONCURRENTLY so sales go on meanwhile.

Revision ID: 0008
Revises: 0004
Create Date: 2026-12-07 08:00:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_points_lot_account_id_customer_id_spend_order"


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {NAME}")  # a failed earlier build
        op.execute(
            f"CREATE INDEX CONCURRENTLY {NAME} ON points_lot"
            " (account_id, customer_id, (expires_at IS NULL),"
            " (COALESCE(expires_at, activates_at)), activates_at, id)"
            " WHERE state = 'active'"
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {NAME}")
