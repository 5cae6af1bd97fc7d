"""Merchant accounts (one per MoySklad account), their till tokens and program settings."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID

from loyalty.models.base import created_at, metadata, updated_at

account = sa.Table(
    "account",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("moysklad_account_id", sa.Text, nullable=True),
    sa.Column("status", sa.Text, nullable=False, server_default="active"),
    created_at(),
    updated_at(),
    sa.CheckConstraint("status IN ('active', 'suspended', 'uninstalled')", name="status"),
    sa.UniqueConstraint("moysklad_account_id"),
)

api_token = sa.Table(
    "api_token",
    metadata,
    sa.Column(
        "account_id",
        UUID(as_uuid=True),
        sa.ForeignKey("account.id", ondelete="RESTRICT"),
        primary_key=True,
    ),
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    # SHA-256 of the token; the token itself is never stored.
    sa.Column("token_hash", sa.LargeBinary, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    created_at(),
    sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state IN ('active', 'pending', 'revoked')", name="state"),
    sa.CheckConstraint("octet_length(token_hash) = 32", name="token_hash_length"),
    sa.UniqueConstraint("token_hash"),
)

program_settings = sa.Table(
    "program_settings",
    metadata,
    sa.Column(
        "account_id",
        UUID(as_uuid=True),
        sa.ForeignKey("account.id", ondelete="RESTRICT"),
        primary_key=True,
    ),
    sa.Column("earn_percent", sa.Numeric(5, 2), nullable=False, server_default="5"),
    sa.Column("max_spend_percent", sa.Numeric(5, 2), nullable=False, server_default="50"),
    sa.Column("earn_on_spend", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("activation_delay_days", sa.Integer, nullable=False, server_default="0"),
    sa.Column("expiry_days", sa.Integer, nullable=True),
    sa.Column("welcome_bonus_points", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("verify_registration", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("verify_spend_above_points", sa.BigInteger, nullable=True),
    sa.Column("auto_enroll", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("receipt_text", sa.Text, nullable=False, server_default=""),
    sa.Column("version", sa.BigInteger, nullable=False, server_default="1"),
    updated_at(),
    # Vouchers and gift certificates (migration 0003).
    sa.Column("restore_gift_cards_on_return", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("apply_personal_vouchers", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("voucher_stacking", sa.Text, nullable=False, server_default="stack"),
    sa.CheckConstraint("voucher_stacking IN ('stack', 'exclusive')", name="voucher_stacking"),
    # Scheduled jobs (migration 0006): birthday bonus and expiry warnings.
    sa.Column("birthday_bonus_points", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("birthday_window_days", sa.Integer, nullable=False, server_default="0"),
    sa.Column("expiry_warning_days", sa.Integer, nullable=False, server_default="0"),
    sa.CheckConstraint("birthday_bonus_points >= 0", name="birthday_bonus_points"),
    sa.CheckConstraint(
        "birthday_window_days >= 0 AND birthday_window_days <= 30", name="birthday_window_days"
    ),
    sa.CheckConstraint(
        "expiry_warning_days >= 0 AND expiry_warning_days <= 365", name="expiry_warning_days"
    ),
    # Tiers (migration 0004): purchases count over this many calendar months, this one included.
    sa.Column("tier_window_months", sa.SmallInteger, nullable=False, server_default="12"),
    sa.CheckConstraint(
        "tier_window_months >= 1 AND tier_window_months <= 120", name="tier_window_months"
    ),
    sa.CheckConstraint("earn_percent >= 0 AND earn_percent <= 100", name="earn_percent"),
    sa.CheckConstraint(
        "max_spend_percent >= 0 AND max_spend_percent <= 100", name="max_spend_percent"
    ),
    sa.CheckConstraint(
        "activation_delay_days >= 0 AND activation_delay_days <= 3650", name="activation_delay_days"
    ),
    sa.CheckConstraint(
        "expiry_days IS NULL OR (expiry_days > 0 AND expiry_days <= 36500)", name="expiry_days"
    ),
    sa.CheckConstraint("welcome_bonus_points >= 0", name="welcome_bonus_points"),
    sa.CheckConstraint(
        "verify_spend_above_points IS NULL OR verify_spend_above_points >= 0",
        name="verify_spend_above_points",
    ),
)
