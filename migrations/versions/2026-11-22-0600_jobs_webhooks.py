"""Scheduled jobs and webhooks: birthday bonus and expiry warning settings, the 'birthday'
ledger transaction kind, webhook endpoints, the webhook outbox, sent expiry warnings, and the
indexes the jobs scan by (due maturities, expiring lots, due deliveries).

Revision ID: 0006
Revises: 0007
Create Date: 2026-11-22 06:00:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS_BEFORE = (
    "'sale', 'return', 'welcome', 'adjustment', 'activation', 'expiry', 'transfer', 'merge'"
)
KINDS_AFTER = KINDS_BEFORE + ", 'birthday'"
EVENT_TYPES = (
    "'points.earned', 'points.spent', 'points.expired', 'points.reversed', 'points.expiring',"
    " 'tier.changed', 'voucher.redeemed'"
)


def upgrade() -> None:
    op.drop_constraint(op.f("ck_ledger_transaction_kind"), "ledger_transaction", type_="check")
    op.create_check_constraint(
        op.f("ck_ledger_transaction_kind"), "ledger_transaction", f"kind IN ({KINDS_AFTER})"
    )

    op.add_column(
        "program_settings",
        sa.Column("birthday_bonus_points", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.add_column(
        "program_settings",
        sa.Column("birthday_window_days", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column(
        "program_settings",
        sa.Column("expiry_warning_days", sa.Integer(), server_default="0", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_program_settings_birthday_bonus_points"),
        "program_settings",
        "birthday_bonus_points >= 0",
    )
    op.create_check_constraint(
        op.f("ck_program_settings_birthday_window_days"),
        "program_settings",
        "birthday_window_days >= 0 AND birthday_window_days <= 30",
    )
    op.create_check_constraint(
        op.f("ck_program_settings_expiry_warning_days"),
        "program_settings",
        "expiry_warning_days >= 0 AND expiry_warning_days <= 365",
    )

    op.create_index(
        "ix_customer_balance_next_maturity_at",
        "customer_balance",
        ["next_maturity_at"],
        postgresql_where=sa.text("next_maturity_at IS NOT NULL"),
    )
    op.create_index(
        "ix_points_lot_expires_at_live",
        "points_lot",
        ["expires_at"],
        postgresql_where=sa.text("state <> 'closed' AND expires_at IS NOT NULL"),
    )

    op.create_table(
        "webhook_endpoint",
        sa.Column("account_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("event_types", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "cardinality(event_types) > 0", name=op.f("ck_webhook_endpoint_event_types_not_empty")
        ),
        sa.CheckConstraint(
            f"event_types <@ ARRAY[{EVENT_TYPES}]::text[]",
            name=op.f("ck_webhook_endpoint_event_types_known"),
        ),
        sa.CheckConstraint("url ~ '^https?://'", name=op.f("ck_webhook_endpoint_url_scheme")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_webhook_endpoint_account_id_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_webhook_endpoint")),
    )
    op.create_table(
        "webhook_delivery",
        sa.Column("account_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("endpoint_id", sa.BigInteger(), nullable=False),
        sa.Column("event_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'dead', 'cancelled')",
            name=op.f("ck_webhook_delivery_status"),
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_webhook_delivery_attempts_non_negative")),
        sa.ForeignKeyConstraint(
            ["account_id", "endpoint_id"],
            ["webhook_endpoint.account_id", "webhook_endpoint.id"],
            name=op.f("fk_webhook_delivery_account_id_endpoint_id_webhook_endpoint"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_webhook_delivery")),
        sa.UniqueConstraint(
            "account_id",
            "endpoint_id",
            "event_id",
            name=op.f("uq_webhook_delivery_account_id_endpoint_id_event_id"),
        ),
    )
    op.create_index(
        "ix_webhook_delivery_next_attempt_at_pending",
        "webhook_delivery",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_webhook_delivery_created_at_finished",
        "webhook_delivery",
        ["created_at"],
        postgresql_where=sa.text("status <> 'pending'"),
    )
    op.create_table(
        "expiry_warning",
        sa.Column("account_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("customer_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("expiring_points", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "expiring_points > 0", name=op.f("ck_expiry_warning_expiring_points_positive")
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "customer_id"],
            ["customer.account_id", "customer.id"],
            name=op.f("fk_expiry_warning_account_id_customer_id_customer"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint(
            "account_id", "customer_id", "expires_on", name=op.f("pk_expiry_warning")
        ),
    )


def downgrade() -> None:
    op.drop_table("expiry_warning")
    op.drop_index("ix_webhook_delivery_created_at_finished", table_name="webhook_delivery")
    op.drop_index("ix_webhook_delivery_next_attempt_at_pending", table_name="webhook_delivery")
    op.drop_table("webhook_delivery")
    op.drop_table("webhook_endpoint")
    op.drop_index("ix_points_lot_expires_at_live", table_name="points_lot")
    op.drop_index("ix_customer_balance_next_maturity_at", table_name="customer_balance")
    for name in ("expiry_warning_days", "birthday_window_days", "birthday_bonus_points"):
        op.drop_constraint(op.f(f"ck_program_settings_{name}"), "program_settings", type_="check")
        op.drop_column("program_settings", name)
    # Refused while birthday transactions exist: the ledger is append-only history.
    op.drop_constraint(op.f("ck_ledger_transaction_kind"), "ledger_transaction", type_="check")
    op.create_check_constraint(
        op.f("ck_ledger_transaction_kind"), "ledger_transaction", f"kind IN ({KINDS_BEFORE})"
    )
