"""Daily report figures of closed days, rolled up once so long periods read a row per store and
day instead of every sale (`loyalty report rollup`; reports/service.py explains why a closed
day never changes)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID

from loyalty.models.base import created_at, metadata, updated_at

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

report_daily_store = sa.Table(
    "report_daily_store",
    metadata,
    sa.Column("account_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    # '' for no store (expiries, sales sent without one): a key column cannot be NULL.
    sa.Column("retail_store_key", sa.Text, primary_key=True),
    *(sa.Column(name, sa.BigInteger, nullable=False) for name in DAILY_FIGURES),
    created_at(),
    sa.CheckConstraint(" AND ".join(f"{name} >= 0" for name in DAILY_FIGURES), name="non_negative"),
    sa.ForeignKeyConstraint(["account_id"], ["account.id"], ondelete="RESTRICT"),
)

# Days up to and including `through_day` (UTC) are in report_daily_store.
report_rollup = sa.Table(
    "report_rollup",
    metadata,
    sa.Column(
        "account_id",
        UUID(as_uuid=True),
        sa.ForeignKey("account.id", ondelete="RESTRICT"),
        primary_key=True,
    ),
    sa.Column("through_day", sa.Date, nullable=False),
    updated_at(),
)
