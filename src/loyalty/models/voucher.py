"""Vouchers and gift certificates: batches, codes, and the append-only movement ledger.

A voucher's balance (kopecks), use count, status and version change only through
`voucher_movement` inserts: a trigger applies each movement (migrations/versions/*_vouchers.py),
so "balance = Σ movements" and "uses never exceed the limit" are PostgreSQL guarantees.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID

from loyalty.models.base import created_at, metadata, updated_at

VOUCHER_TYPES = ("GIFT", "DISCOUNT", "CASH")
VOUCHER_STATUSES = ("NEW", "ISSUED", "REDEEMED", "VOID", "EXPIRED")
EXPIRY_TYPES = ("NONE", "FIXED", "DYNAMIC")
MOVEMENT_KINDS = ("issue", "import", "redeem", "refund", "adjust", "void", "expire")

voucher_batch = sa.Table(
    "voucher_batch",
    metadata,
    sa.Column(
        "account_id",
        UUID(as_uuid=True),
        sa.ForeignKey("account.id", ondelete="RESTRICT"),
        primary_key=True,
    ),
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    # Short external code of the group: Smart Loyalty `voucherGroupId`, Enactor `voucherTypeId`.
    sa.Column("code", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("voucher_type", sa.Text, nullable=False),
    sa.Column("currency", sa.Text, nullable=False, server_default="RUB"),
    sa.Column("face_value_minor", sa.BigInteger, nullable=True),
    sa.Column("discount_percent", sa.Numeric(5, 2), nullable=True),
    sa.Column("has_balance", sa.Boolean, nullable=False),
    sa.Column("min_spend_minor", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("max_use_percent", sa.Numeric(5, 2), nullable=True),
    sa.Column("uses_per_voucher", sa.Integer, nullable=True),
    # Batch-wide and per-customer use limits; fixed at creation so the counters stay exact.
    sa.Column("usage_limit", sa.Integer, nullable=True),
    sa.Column("per_customer_limit", sa.Integer, nullable=True),
    sa.Column("used_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("expiry_type", sa.Text, nullable=False, server_default="NONE"),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("expiry_days", sa.Integer, nullable=True),
    sa.Column("code_length", sa.Integer, nullable=False),
    sa.Column("code_alphabet", sa.Text, nullable=False),
    sa.Column("code_prefix", sa.Text, nullable=False, server_default=""),
    sa.Column("note", sa.Text, nullable=True),
    created_at(),
    updated_at(),
    sa.CheckConstraint("voucher_type IN ('GIFT', 'DISCOUNT', 'CASH')", name="voucher_type"),
    sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency"),
    sa.CheckConstraint(
        "(voucher_type = 'DISCOUNT' AND discount_percent > 0 AND discount_percent <= 100"
        " AND face_value_minor IS NULL AND NOT has_balance)"
        " OR (voucher_type = 'CASH' AND discount_percent IS NULL AND face_value_minor > 0)"
        " OR (voucher_type = 'GIFT' AND discount_percent IS NULL AND face_value_minor > 0"
        " AND has_balance)",
        name="value",
    ),
    sa.CheckConstraint("min_spend_minor >= 0", name="min_spend_minor"),
    sa.CheckConstraint(
        "max_use_percent IS NULL OR (max_use_percent > 0 AND max_use_percent <= 100)",
        name="max_use_percent",
    ),
    sa.CheckConstraint(
        "(uses_per_voucher IS NULL OR uses_per_voucher > 0)"
        " AND (usage_limit IS NULL OR usage_limit > 0)"
        " AND (per_customer_limit IS NULL OR per_customer_limit > 0)",
        name="limits_positive",
    ),
    sa.CheckConstraint(
        "used_count >= 0 AND (usage_limit IS NULL OR used_count <= usage_limit)",
        name="used_within_limit",
    ),
    sa.CheckConstraint(
        "(expiry_type = 'NONE' AND expires_at IS NULL AND expiry_days IS NULL)"
        " OR (expiry_type = 'FIXED' AND expires_at IS NOT NULL AND expiry_days IS NULL)"
        " OR (expiry_type = 'DYNAMIC' AND expires_at IS NULL AND expiry_days > 0)",
        name="expiry",
    ),
    sa.CheckConstraint(
        "code_length BETWEEN 6 AND 32 AND length(code_alphabet) BETWEEN 10 AND 64",
        name="code_format",
    ),
    sa.UniqueConstraint("account_id", "code"),
)

voucher = sa.Table(
    "voucher",
    metadata,
    sa.Column("account_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("batch_id", UUID(as_uuid=True), nullable=False),
    sa.Column("serial_number", sa.BigInteger, nullable=False),
    sa.Column("code", sa.Text, nullable=False),
    sa.Column("voucher_type", sa.Text, nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("face_value_minor", sa.BigInteger, nullable=True),
    sa.Column("discount_percent", sa.Numeric(5, 2), nullable=True),
    sa.Column("has_balance", sa.Boolean, nullable=False),
    sa.Column("min_spend_minor", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("max_use_percent", sa.Numeric(5, 2), nullable=True),
    sa.Column("usage_limit", sa.Integer, nullable=True),
    # PBKDF2 of the optional PIN (Smart Loyalty `password`); never the PIN itself.
    sa.Column("pin_hash", sa.LargeBinary, nullable=True),
    sa.Column("customer_id", UUID(as_uuid=True), nullable=True),
    sa.Column("origin", sa.Text, nullable=False, server_default="SYSTEM"),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
    # Maintained only by the voucher_movement trigger.
    sa.Column("status", sa.Text, nullable=False, server_default="NEW"),
    sa.Column("balance_minor", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("initial_balance_minor", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("used_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("version", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True),
    created_at(),
    updated_at(),
    sa.CheckConstraint("voucher_type IN ('GIFT', 'DISCOUNT', 'CASH')", name="voucher_type"),
    sa.CheckConstraint("status IN ('NEW', 'ISSUED', 'REDEEMED', 'VOID', 'EXPIRED')", name="status"),
    sa.CheckConstraint("origin IN ('SYSTEM', 'SELF')", name="origin"),
    sa.CheckConstraint(
        "(voucher_type = 'DISCOUNT' AND discount_percent > 0 AND discount_percent <= 100"
        " AND NOT has_balance)"
        " OR (voucher_type = 'CASH' AND discount_percent IS NULL AND face_value_minor > 0)"
        " OR (voucher_type = 'GIFT' AND discount_percent IS NULL AND has_balance)",
        name="value",
    ),
    sa.CheckConstraint("balance_minor >= 0", name="balance_non_negative"),
    sa.CheckConstraint("has_balance OR balance_minor = 0", name="balance_only_when_stored_value"),
    sa.CheckConstraint(
        "used_count >= 0 AND (usage_limit IS NULL OR used_count <= usage_limit)",
        name="used_within_limit",
    ),
    sa.CheckConstraint("usage_limit IS NULL OR usage_limit > 0", name="usage_limit_positive"),
    sa.CheckConstraint(
        "status NOT IN ('VOID', 'EXPIRED') OR balance_minor = 0", name="closed_is_empty"
    ),
    sa.CheckConstraint("min_spend_minor >= 0", name="min_spend_minor"),
    sa.ForeignKeyConstraint(
        ["account_id", "batch_id"],
        ["voucher_batch.account_id", "voucher_batch.id"],
        ondelete="RESTRICT",
    ),
    sa.ForeignKeyConstraint(
        ["account_id", "customer_id"], ["customer.account_id", "customer.id"], ondelete="RESTRICT"
    ),
    sa.UniqueConstraint("account_id", "code"),
    sa.UniqueConstraint("account_id", "serial_number"),
    sa.Index(
        "ix_voucher_account_id_batch_id_serial_number", "account_id", "batch_id", "serial_number"
    ),
    sa.Index(
        "ix_voucher_account_id_customer_id",
        "account_id",
        "customer_id",
        postgresql_where=sa.text("customer_id IS NOT NULL"),
    ),
    # Reports: outstanding gift certificate balances.
    sa.Index(
        "ix_voucher_account_id_expires_at_gift_issued",
        "account_id",
        "expires_at",
        postgresql_where=sa.text("voucher_type = 'GIFT' AND status = 'ISSUED'"),
    ),
)

voucher_movement = sa.Table(
    "voucher_movement",
    metadata,
    sa.Column("account_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("voucher_id", UUID(as_uuid=True), nullable=False),
    sa.Column("batch_id", UUID(as_uuid=True), nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    # Signed change of the balance (kopecks) and of the use count.
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("uses_delta", sa.Integer, nullable=False),
    sa.Column("idempotency_key", sa.Text, nullable=False),
    # What the movement meant to its sale: the discount given or the amount paid (kopecks),
    # negative when a return gives it back.
    sa.Column("applied_minor", sa.BigInteger, nullable=True),
    sa.Column("customer_id", UUID(as_uuid=True), nullable=True),
    sa.Column("sale_id", sa.BigInteger, nullable=True),
    sa.Column("return_id", sa.BigInteger, nullable=True),
    sa.Column("retail_store_id", sa.Text, nullable=True),
    sa.Column("document", sa.Text, nullable=True),
    sa.Column("actor", sa.Text, nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    # Filled by the trigger: the voucher's state right after this movement.
    sa.Column("balance_after_minor", sa.BigInteger, nullable=True),
    sa.Column("used_count_after", sa.Integer, nullable=True),
    sa.Column("voucher_version", sa.BigInteger, nullable=True),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    created_at(),
    sa.CheckConstraint(
        "kind IN ('issue', 'import', 'redeem', 'refund', 'adjust', 'void', 'expire')",
        name="kind",
    ),
    sa.CheckConstraint(
        "(kind IN ('issue', 'import') AND amount_minor >= 0 AND uses_delta >= 0)"
        " OR (kind = 'redeem' AND amount_minor <= 0 AND uses_delta >= 0"
        " AND (amount_minor < 0 OR uses_delta > 0))"
        " OR (kind = 'refund' AND amount_minor >= 0 AND uses_delta <= 0"
        " AND (amount_minor > 0 OR uses_delta < 0))"
        " OR (kind = 'adjust' AND amount_minor <> 0 AND uses_delta = 0)"
        " OR (kind IN ('void', 'expire') AND amount_minor <= 0 AND uses_delta = 0)",
        name="direction",
    ),
    sa.ForeignKeyConstraint(
        ["account_id", "voucher_id"], ["voucher.account_id", "voucher.id"], ondelete="RESTRICT"
    ),
    sa.UniqueConstraint("account_id", "idempotency_key"),
    sa.Index("ix_voucher_movement_account_id_voucher_id_id", "account_id", "voucher_id", "id"),
    sa.Index(
        "ix_voucher_movement_account_id_sale_id",
        "account_id",
        "sale_id",
        postgresql_where=sa.text("sale_id IS NOT NULL"),
    ),
)

# Uses per (batch, customer) for batches with a per-customer limit; written by the trigger only.
voucher_customer_usage = sa.Table(
    "voucher_customer_usage",
    metadata,
    sa.Column("account_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("batch_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("customer_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("used_count", sa.Integer, nullable=False),
    sa.CheckConstraint("used_count >= 0", name="used_count_non_negative"),
    sa.ForeignKeyConstraint(
        ["account_id", "batch_id"],
        ["voucher_batch.account_id", "voucher_batch.id"],
        ondelete="RESTRICT",
    ),
)

# The last serial number handed out per account: generation reserves a range atomically.
voucher_serial = sa.Table(
    "voucher_serial",
    metadata,
    sa.Column(
        "account_id",
        UUID(as_uuid=True),
        sa.ForeignKey("account.id", ondelete="RESTRICT"),
        primary_key=True,
    ),
    sa.Column("last_serial", sa.BigInteger, nullable=False),
    sa.CheckConstraint("last_serial >= 0", name="last_serial_non_negative"),
)

# One row per generation run (CLI or API): who made which serial range, replayable by key.
voucher_generation = sa.Table(
    "voucher_generation",
    metadata,
    sa.Column("account_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("batch_id", UUID(as_uuid=True), nullable=False),
    sa.Column("idempotency_key", sa.Text, nullable=True),
    sa.Column("voucher_count", sa.Integer, nullable=False),
    sa.Column("first_serial", sa.BigInteger, nullable=False),
    sa.Column("last_serial", sa.BigInteger, nullable=False),
    sa.Column("issued", sa.Boolean, nullable=False),
    sa.Column("actor", sa.Text, nullable=True),
    created_at(),
    sa.CheckConstraint(
        "voucher_count > 0 AND last_serial - first_serial + 1 = voucher_count", name="range"
    ),
    sa.ForeignKeyConstraint(
        ["account_id", "batch_id"],
        ["voucher_batch.account_id", "voucher_batch.id"],
        ondelete="RESTRICT",
    ),
    sa.UniqueConstraint("account_id", "idempotency_key"),
)

# Failed code look-ups and request rates per client, for lockout and 429s.
client_throttle = sa.Table(
    "client_throttle",
    metadata,
    sa.Column(
        "account_id",
        UUID(as_uuid=True),
        sa.ForeignKey("account.id", ondelete="RESTRICT"),
        primary_key=True,
    ),
    sa.Column("scope", sa.Text, primary_key=True),
    sa.Column("client_key", sa.Text, primary_key=True),
    sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("hits", sa.Integer, nullable=False),
    sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("scope IN ('code_lookup', 'rate_limit')", name="scope"),
    sa.CheckConstraint("hits >= 0", name="hits_non_negative"),
)
