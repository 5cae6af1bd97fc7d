"""A customer's pending lots by activation: posting due maturities reads only the lots that fell
due, and the next maturity comes from the head of two indexes, however many lots the customer
holds. Built CONCURRENTLY so sales go on meanwhile.

The statistics on the spend-order moment let the planner see how few of a customer's active
lots are due to expire (a partial index's expression statistics are not used for estimates):
without them it reads every live lot of the customer to find the due ones.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 09:00:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_points_lot_account_id_customer_id_pending"
STATISTICS = "st_points_lot_spend_moment"


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {NAME}")  # a failed earlier build
        op.execute(
            f"CREATE INDEX CONCURRENTLY {NAME} ON points_lot"
            " (account_id, customer_id, activates_at) WHERE state = 'pending'"
        )
        op.execute(
            f"CREATE STATISTICS IF NOT EXISTS {STATISTICS}"
            " ON (COALESCE(expires_at, activates_at)) FROM points_lot"
        )
        op.execute("ANALYZE points_lot")


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute(f"DROP STATISTICS IF EXISTS {STATISTICS}")
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {NAME}")
