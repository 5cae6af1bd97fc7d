"""Customers and their cached balances."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID

from loyalty.models.base import created_at, metadata, updated_at

customer = sa.Table(
    "customer",
    metadata,
    sa.Column(
        "account_id",
        UUID(as_uuid=True),
        sa.ForeignKey("account.id", ondelete="RESTRICT"),
        primary_key=True,
    ),
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("moysklad_id", sa.Text, nullable=True),
    sa.Column("sync_id", sa.Text, nullable=True),
    sa.Column("name", sa.Text, nullable=True),
    # The phone as written (E.164 when it parses), encrypted; found through its blind index.
    sa.Column("phone_ciphertext", sa.LargeBinary, nullable=True),
    sa.Column("phone_index", sa.LargeBinary, nullable=True),
    sa.Column("email", sa.Text, nullable=True),
    sa.Column("card_number", sa.Text, nullable=True),
    sa.Column("legal_first_name", sa.Text, nullable=True),
    sa.Column("legal_middle_name", sa.Text, nullable=True),
    sa.Column("legal_last_name", sa.Text, nullable=True),
    sa.Column("birth_date", sa.Date, nullable=True),
    sa.Column("sex", sa.Text, nullable=True),
    sa.Column("verified", sa.Boolean, nullable=False, server_default=sa.false()),
    # Back office: `blocked` neither earns nor spends at the till; `merged` and `erased` are
    # closed for good (points moved to `merged_into_id`, or personal data anonymised).
    sa.Column("status", sa.Text, nullable=False, server_default="active"),
    sa.Column("merged_into_id", UUID(as_uuid=True), nullable=True),
    sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True),
    created_at(),
    updated_at(),
    sa.CheckConstraint("sex IS NULL OR sex IN ('MALE', 'FEMALE')", name="sex"),
    sa.CheckConstraint("status IN ('active', 'blocked', 'merged', 'erased')", name="status"),
    sa.CheckConstraint(
        "(status = 'merged') = (merged_into_id IS NOT NULL) AND merged_into_id IS DISTINCT FROM id",
        name="merged_into",
    ),
    sa.ForeignKeyConstraint(
        ["account_id", "merged_into_id"],
        ["customer.account_id", "customer.id"],
        ondelete="RESTRICT",
    ),
    sa.UniqueConstraint("account_id", "moysklad_id"),
    sa.UniqueConstraint("account_id", "sync_id"),
    sa.UniqueConstraint("account_id", "card_number"),
    sa.Index("ix_customer_account_id_phone_index", "account_id", "phone_index"),
    sa.Index("ix_customer_account_id_email_lower", "account_id", sa.text("lower(email)")),
)

# Card numbers replaced in the back office (migration 0013): never given out again, which a
# trigger on `customer` enforces.
retired_card = sa.Table(
    "retired_card",
    metadata,
    sa.Column("account_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("card_number", sa.Text, primary_key=True),
    sa.Column("customer_id", UUID(as_uuid=True), nullable=False),
    sa.Column("retired_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(
        ["account_id", "customer_id"],
        ["customer.account_id", "customer.id"],
        ondelete="RESTRICT",
    ),
    sa.Index("ix_retired_card_account_id_customer_id", "account_id", "customer_id"),
)

# Maintained only by the ledger_entry trigger (migrations/versions/*_core_ledger.py):
# balance = Σ entries is enforced by PostgreSQL, not just by the application.
customer_balance = sa.Table(
    "customer_balance",
    metadata,
    sa.Column("account_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("customer_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("available_points", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("pending_points", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("debt_points", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("version", sa.BigInteger, nullable=False, server_default="0"),
    # Earliest activation or expiry among live lots: reads skip the lot scan until then.
    sa.Column("next_maturity_at", sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("available_points >= 0", name="available_points_non_negative"),
    sa.CheckConstraint("pending_points >= 0", name="pending_points_non_negative"),
    sa.CheckConstraint("debt_points >= 0", name="debt_points_non_negative"),
    sa.ForeignKeyConstraint(
        ["account_id", "customer_id"], ["customer.account_id", "customer.id"], ondelete="RESTRICT"
    ),
    # The maturity job finds due customers of every account (migration 0006).
    sa.Index(
        "ix_customer_balance_next_maturity_at",
        "next_maturity_at",
        postgresql_where=sa.text("next_maturity_at IS NOT NULL"),
    ),
)
