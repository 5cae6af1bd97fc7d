"""Webhook endpoints, the webhook outbox and the expiry warnings already sent (migration 0006)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from loyalty.models.base import created_at, metadata

WEBHOOK_EVENT_TYPES = (
    "points.earned",
    "points.spent",
    "points.expired",
    "points.reversed",
    "points.expiring",
    "tier.changed",
    "voucher.redeemed",
    "points.transferred",
    "customer.merged",
)
DELIVERY_STATUSES = ("pending", "delivered", "dead", "cancelled")

webhook_endpoint = sa.Table(
    "webhook_endpoint",
    metadata,
    sa.Column(
        "account_id",
        UUID(as_uuid=True),
        sa.ForeignKey("account.id", ondelete="RESTRICT"),
        primary_key=True,
    ),
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("url", sa.Text, nullable=False),
    # The signing secret, encrypted with the personal-data keys (common/crypto.py).
    sa.Column("secret_ciphertext", sa.LargeBinary, nullable=False),
    sa.Column("event_types", ARRAY(sa.Text), nullable=False),
    sa.Column("created_by", sa.Text, nullable=True),
    created_at(),
    sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("cardinality(event_types) > 0", name="event_types_not_empty"),
    sa.CheckConstraint(
        "event_types <@ ARRAY["
        + ", ".join(f"'{name}'" for name in WEBHOOK_EVENT_TYPES)
        + "]::text[]",
        name="event_types_known",
    ),
    sa.CheckConstraint("url ~ '^https?://'", name="url_scheme"),
)

# The outbox: one row per (event, endpoint that wants it), written in the transaction of the
# change that caused the event, so a rolled-back change leaves nothing to send.
webhook_delivery = sa.Table(
    "webhook_delivery",
    metadata,
    sa.Column("account_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("endpoint_id", sa.BigInteger, nullable=False),
    # Shared by every endpoint's copy of one event; receivers deduplicate by it.
    sa.Column("event_id", UUID(as_uuid=True), nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("payload", JSONB, nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column(
        "next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("last_status_code", sa.Integer, nullable=True),
    sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
    created_at(),
    sa.CheckConstraint(
        "status IN (" + ", ".join(f"'{name}'" for name in DELIVERY_STATUSES) + ")", name="status"
    ),
    sa.CheckConstraint("attempts >= 0", name="attempts_non_negative"),
    sa.UniqueConstraint("account_id", "endpoint_id", "event_id"),
    sa.ForeignKeyConstraint(
        ["account_id", "endpoint_id"],
        ["webhook_endpoint.account_id", "webhook_endpoint.id"],
        ondelete="RESTRICT",
    ),
    # The delivery loop's queue: due rows of every account.
    sa.Index(
        "ix_webhook_delivery_next_attempt_at_pending",
        "next_attempt_at",
        postgresql_where=sa.text("status = 'pending'"),
    ),
    # Finished rows by age, for the retention purge.
    sa.Index(
        "ix_webhook_delivery_created_at_finished",
        "created_at",
        postgresql_where=sa.text("status <> 'pending'"),
    ),
)

# One `points.expiring` warning per customer and expiry date, whatever the number of workers.
expiry_warning = sa.Table(
    "expiry_warning",
    metadata,
    sa.Column("account_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("customer_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("expires_on", sa.Date, primary_key=True),
    sa.Column("expiring_points", sa.BigInteger, nullable=False),
    created_at(),
    sa.CheckConstraint("expiring_points > 0", name="expiring_points_positive"),
    sa.ForeignKeyConstraint(
        ["account_id", "customer_id"], ["customer.account_id", "customer.id"], ondelete="RESTRICT"
    ),
)
