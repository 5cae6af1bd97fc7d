"""The points ledger: append-only, double-entry, with earning lots for activation and expiry.

Buckets per customer: `available`, `pending` (not yet activated) and `debt` (points owed after
a return took back points already spent). System buckets per account: `issued` (source of
earned points), `redeemed` (sink of spent points), `expired`, `adjustment` (manual changes).
Every transaction's entries sum to zero (deferred constraint trigger).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID

from loyalty.models.base import created_at, metadata

CUSTOMER_BUCKETS = ("available", "pending", "debt")
SYSTEM_BUCKETS = ("issued", "redeemed", "expired", "adjustment")

ledger_transaction = sa.Table(
    "ledger_transaction",
    metadata,
    sa.Column(
        "account_id",
        UUID(as_uuid=True),
        sa.ForeignKey("account.id", ondelete="RESTRICT"),
        primary_key=True,
    ),
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("idempotency_key", sa.Text, nullable=False),
    sa.Column("customer_id", UUID(as_uuid=True), nullable=True),
    sa.Column("document_kind", sa.Text, nullable=True),
    sa.Column("document_id", sa.BigInteger, nullable=True),
    sa.Column("reverses_transaction_id", sa.BigInteger, nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("actor", sa.Text, nullable=True),
    sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
    created_at(),
    sa.CheckConstraint(
        "kind IN ('sale', 'return', 'welcome', 'adjustment', 'activation', 'expiry',"
        " 'transfer', 'merge', 'birthday')",
        name="kind",
    ),
    sa.UniqueConstraint("account_id", "idempotency_key"),
    sa.Index("ix_ledger_transaction_account_id_customer_id_id", "account_id", "customer_id", "id"),
    # Reports: expiries by day.
    sa.Index(
        "ix_ledger_transaction_account_id_effective_at_expiry",
        "account_id",
        "effective_at",
        postgresql_where=sa.text("kind = 'expiry'"),
    ),
)

ledger_entry = sa.Table(
    "ledger_entry",
    metadata,
    sa.Column("account_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("transaction_id", sa.BigInteger, nullable=False),
    sa.Column("bucket", sa.Text, nullable=False),
    sa.Column("customer_id", UUID(as_uuid=True), nullable=True),
    sa.Column("amount_points", sa.BigInteger, nullable=False),
    # Filled by the balance trigger for customer buckets: the running balance and its version.
    sa.Column("balance_after_points", sa.BigInteger, nullable=True),
    sa.Column("account_version", sa.BigInteger, nullable=True),
    sa.CheckConstraint("amount_points <> 0", name="amount_points_non_zero"),
    sa.CheckConstraint(
        "(customer_id IS NOT NULL AND bucket IN ('available', 'pending', 'debt'))"
        " OR (customer_id IS NULL AND bucket IN ('issued', 'redeemed', 'expired', 'adjustment'))",
        name="bucket_owner",
    ),
    sa.ForeignKeyConstraint(
        ["account_id", "transaction_id"],
        ["ledger_transaction.account_id", "ledger_transaction.id"],
        ondelete="RESTRICT",
    ),
    sa.Index("ix_ledger_entry_account_id_transaction_id", "account_id", "transaction_id"),
    sa.Index(
        "ix_ledger_entry_account_id_customer_id_id",
        "account_id",
        "customer_id",
        "id",
        postgresql_where=sa.text("customer_id IS NOT NULL"),
    ),
    # Reports: expired points per expiry transaction, read from the index alone.
    sa.Index(
        "ix_ledger_entry_account_id_transaction_id_expired",
        "account_id",
        "transaction_id",
        "amount_points",
        postgresql_where=sa.text("bucket = 'expired'"),
    ),
)

# A lot is one earning: it activates, is drawn down by spending (soonest expiry first) and
# expires. `remaining_points` is an allocation index over the ledger, rebuilt-checkable from
# `points_lot_movement` (append-only), which `ledger verify` does.
points_lot = sa.Table(
    "points_lot",
    metadata,
    sa.Column("account_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("customer_id", UUID(as_uuid=True), nullable=False),
    sa.Column("transaction_id", sa.BigInteger, nullable=False),
    sa.Column("amount_points", sa.BigInteger, nullable=False),
    sa.Column("remaining_points", sa.BigInteger, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("activates_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    created_at(),
    sa.CheckConstraint("amount_points > 0", name="amount_points_positive"),
    sa.CheckConstraint(
        "remaining_points >= 0 AND remaining_points <= amount_points", name="remaining_points_range"
    ),
    sa.CheckConstraint("state IN ('pending', 'active', 'closed')", name="state"),
    sa.CheckConstraint("state <> 'closed' OR remaining_points = 0", name="closed_is_empty"),
    sa.ForeignKeyConstraint(
        ["account_id", "customer_id"], ["customer.account_id", "customer.id"], ondelete="RESTRICT"
    ),
    sa.ForeignKeyConstraint(
        ["account_id", "transaction_id"],
        ["ledger_transaction.account_id", "ledger_transaction.id"],
        ondelete="RESTRICT",
    ),
    # Spend order (ledger.rules.spend_order_key): a spend reads only the lots it draws from.
    sa.Index(
        "ix_points_lot_account_id_customer_id_spend_order",
        "account_id",
        "customer_id",
        sa.text("(expires_at IS NULL)"),
        sa.text("(COALESCE(expires_at, activates_at))"),
        "activates_at",
        "id",
        postgresql_where=sa.text("state = 'active'"),
    ),
    # A customer's pending lots (few: those inside the activation delay), for due maturities.
    sa.Index(
        "ix_points_lot_account_id_customer_id_pending",
        "account_id",
        "customer_id",
        "activates_at",
        postgresql_where=sa.text("state = 'pending'"),
    ),
    sa.Index(
        "ix_points_lot_account_id_customer_id_live",
        "account_id",
        "customer_id",
        postgresql_where=sa.text("state <> 'closed'"),
    ),
    # Reports: live points by expiry (due-but-unposted expiries, expiring soon) and pending
    # lots by activation. Neither indexes remaining_points, so spending stays a HOT update.
    sa.Index(
        "ix_points_lot_account_id_expires_at_live",
        "account_id",
        "expires_at",
        postgresql_where=sa.text("state <> 'closed' AND expires_at IS NOT NULL"),
    ),
    sa.Index(
        "ix_points_lot_account_id_activates_at_pending",
        "account_id",
        "activates_at",
        postgresql_where=sa.text("state = 'pending'"),
    ),
    # The expiry-warning job scans live lots of every account by expiry (migration 0006).
    sa.Index(
        "ix_points_lot_expires_at_live",
        "expires_at",
        postgresql_where=sa.text("state <> 'closed' AND expires_at IS NOT NULL"),
    ),
)

points_lot_movement = sa.Table(
    "points_lot_movement",
    metadata,
    sa.Column("account_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("transaction_id", sa.BigInteger, nullable=False),
    sa.Column("lot_id", sa.BigInteger, nullable=False),
    sa.Column("amount_points", sa.BigInteger, nullable=False),
    sa.CheckConstraint("amount_points <> 0", name="amount_points_non_zero"),
    sa.ForeignKeyConstraint(
        ["account_id", "transaction_id"],
        ["ledger_transaction.account_id", "ledger_transaction.id"],
        ondelete="RESTRICT",
    ),
    sa.ForeignKeyConstraint(
        ["account_id", "lot_id"], ["points_lot.account_id", "points_lot.id"], ondelete="RESTRICT"
    ),
    sa.Index("ix_points_lot_movement_account_id_lot_id", "account_id", "lot_id"),
    sa.Index("ix_points_lot_movement_account_id_transaction_id", "account_id", "transaction_id"),
)
