"""`ledger_lot_draws`: a posting's draws from lots as rows, with an estimate of one row.

A posting is one prepared statement (ledger.repository.post_transaction). Its draws arrived as
`unnest` of two array parameters, which a generic plan must guess at ten rows, each an index
probe into points_lot; a custom plan sees the real count (none for an earning sale). The
generic plan therefore always looked dearer, and PostgreSQL planned the statement afresh on
every call (0.37 ms of server CPU per posting). A function that is not inlined (STRICT) keeps
its declared estimate, so both plans cost alike and the generic one is cached.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 11:00:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE OR REPLACE FUNCTION ledger_lot_draws(lot_ids bigint[], takes_points bigint[])
            RETURNS TABLE (lot_id bigint, take_points bigint)
            LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE ROWS 1
            AS 'SELECT * FROM unnest(lot_ids, takes_points)'
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS ledger_lot_draws(bigint[], bigint[])")
