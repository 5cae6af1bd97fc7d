"""Operator API keys and the audit log of every operator-visible change."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from loyalty.models.base import created_at, metadata

operator_api_key = sa.Table(
    "operator_api_key",
    metadata,
    sa.Column(
        "account_id",
        UUID(as_uuid=True),
        sa.ForeignKey("account.id", ondelete="RESTRICT"),
        primary_key=True,
    ),
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    # SHA-256 of the key; the key itself is shown once and never stored.
    sa.Column("key_hash", sa.LargeBinary, nullable=False),
    sa.Column("key_prefix", sa.Text, nullable=False),
    sa.Column("created_by", sa.Text, nullable=True),
    created_at(),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("role IN ('admin', 'operator', 'read-only')", name="role"),
    sa.CheckConstraint("octet_length(key_hash) = 32", name="key_hash_length"),
    sa.UniqueConstraint("key_hash"),
)

# Append-only (trigger): who changed what, before and after, from which store and document.
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column(
        "account_id",
        UUID(as_uuid=True),
        sa.ForeignKey("account.id", ondelete="RESTRICT"),
        primary_key=True,
    ),
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("entity_type", sa.Text, nullable=False),
    sa.Column("entity_id", sa.Text, nullable=True),
    sa.Column("before", JSONB, nullable=True),
    sa.Column("after", JSONB, nullable=True),
    sa.Column("retail_store_id", sa.Text, nullable=True),
    sa.Column("document", sa.Text, nullable=True),
    created_at(),
    sa.Index(
        "ix_audit_log_account_id_entity_type_entity_id_id",
        "account_id",
        "entity_type",
        "entity_id",
        "id",
    ),
)
