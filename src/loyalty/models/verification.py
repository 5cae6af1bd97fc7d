"""Verification codes sent to customers (registration and spending)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID

from loyalty.models.base import created_at, metadata

verification_code = sa.Table(
    "verification_code",
    metadata,
    sa.Column(
        "account_id",
        UUID(as_uuid=True),
        sa.ForeignKey("account.id", ondelete="RESTRICT"),
        primary_key=True,
    ),
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("purpose", sa.Text, nullable=False),
    # Blind index of the phone (never the number itself): the rate-limit key.
    sa.Column("phone_index", sa.LargeBinary, nullable=False),
    sa.Column("code_hash", sa.LargeBinary, nullable=False),
    sa.Column("retail_store_id", sa.Text, nullable=True),
    sa.Column("customer_id", UUID(as_uuid=True), nullable=True),
    created_at(),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("purpose IN ('registration', 'spending')", name="purpose"),
    sa.Index(
        "ix_verification_code_account_id_retail_store_id_created_at",
        "account_id",
        "retail_store_id",
        "created_at",
    ),
    sa.Index(
        "ix_verification_code_account_id_phone_index_created_at",
        "account_id",
        "phone_index",
        "created_at",
    ),
)
