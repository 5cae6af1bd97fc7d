"""MoySklad solution: installations, Vendor API replay protection, background tasks, catalogue.

- moysklad_installation: one row per account installed from the MoySklad catalogue; the JSON API
  token is stored Fernet-encrypted and CHECKs drop it once MoySklad revoked it;
- moysklad_vendor_request / moysklad_seen_jti: answered X_Lognex_RequestId values and seen JWT ids;
- moysklad_task: durable, leased background work (catalogue sync, loyalty connection);
- moysklad_retail_store / moysklad_product_folder / moysklad_product: the mirrored catalogue.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 02:47:28.709509+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "moysklad_seen_jti",
        sa.Column("jti", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_moysklad_seen_jti")),
    )
    op.create_index(
        "ix_moysklad_seen_jti_expires_at", "moysklad_seen_jti", ["expires_at"], unique=False
    )
    op.create_table(
        "moysklad_vendor_request",
        sa.Column("moysklad_account_id", sa.Text(), nullable=False),
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("body_hash", sa.LargeBinary(), nullable=False),
        sa.Column("jti", sa.Text(), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=False),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint(
            "moysklad_account_id", "request_id", name=op.f("pk_moysklad_vendor_request")
        ),
    )
    op.create_index(
        "ix_moysklad_vendor_request_created_at",
        "moysklad_vendor_request",
        ["created_at"],
        unique=False,
    )
    op.create_table(
        "moysklad_installation",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("app_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("last_cause", sa.Text(), nullable=False),
        sa.Column("moysklad_account_name", sa.Text(), nullable=True),
        sa.Column("access_token_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("subscription", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("settings_saved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("loyalty_state", sa.Text(), server_default="disconnected", nullable=False),
        sa.Column("loyalty_connected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("loyalty_error_status", sa.Integer(), nullable=True),
        sa.Column("loyalty_error_code", sa.Integer(), nullable=True),
        sa.Column("loyalty_error_detail", sa.Text(), nullable=True),
        sa.Column("pending_till_token_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("status_report_error", sa.Text(), nullable=True),
        sa.Column("connect_lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("catalogue_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("catalogue_sync_error", sa.Text(), nullable=True),
        sa.Column(
            "installed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("uninstalled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("purge_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(status = 'Uninstalled') = (purge_after IS NOT NULL)",
            name=op.f("ck_moysklad_installation_purge_after"),
        ),
        sa.CheckConstraint(
            "loyalty_state IN ('disconnected', 'connecting', 'unknown', 'connected', 'failed')",
            name=op.f("ck_moysklad_installation_loyalty_state"),
        ),
        sa.CheckConstraint(
            "status IN ('SettingsRequired', 'Activated') OR access_token_ciphertext IS NULL",
            name=op.f("ck_moysklad_installation_revoked_access_token_dropped"),
        ),
        sa.CheckConstraint(
            "status IN ('SettingsRequired', 'Activated', 'Suspended', 'Uninstalled')",
            name=op.f("ck_moysklad_installation_status"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_moysklad_installation_account_id_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_moysklad_installation")),
    )
    op.create_index(
        "ix_moysklad_installation_purge_after",
        "moysklad_installation",
        ["purge_after"],
        unique=False,
        postgresql_where=sa.text("purged_at IS NULL AND purge_after IS NOT NULL"),
    )
    op.create_table(
        "moysklad_product",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("path_name", sa.Text(), server_default="", nullable=False),
        sa.Column("folder_id", sa.Text(), nullable=True),
        sa.Column("product_id", sa.Text(), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(kind = 'variant') = (product_id IS NOT NULL)",
            name=op.f("ck_moysklad_product_variant_product"),
        ),
        sa.CheckConstraint(
            "kind IN ('product', 'service', 'bundle', 'variant')",
            name=op.f("ck_moysklad_product_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_moysklad_product_account_id_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_moysklad_product")),
    )
    op.create_index(
        "ix_moysklad_product_account_id_folder_id",
        "moysklad_product",
        ["account_id", "folder_id"],
        unique=False,
    )
    op.create_table(
        "moysklad_product_folder",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("path_name", sa.Text(), server_default="", nullable=False),
        sa.Column("parent_id", sa.Text(), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_moysklad_product_folder_account_id_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_moysklad_product_folder")),
    )
    op.create_table(
        "moysklad_retail_store",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_moysklad_retail_store_account_id_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_moysklad_retail_store")),
    )
    op.create_table(
        "moysklad_task",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('sync_catalogue', 'connect_loyalty')", name=op.f("ck_moysklad_task_kind")
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_moysklad_task_attempts_non_negative")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_moysklad_task_account_id_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("account_id", "kind", name=op.f("pk_moysklad_task")),
    )
    op.create_index("ix_moysklad_task_run_after", "moysklad_task", ["run_after"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_moysklad_task_run_after", table_name="moysklad_task")
    op.drop_table("moysklad_task")
    op.drop_table("moysklad_retail_store")
    op.drop_table("moysklad_product_folder")
    op.drop_index("ix_moysklad_product_account_id_folder_id", table_name="moysklad_product")
    op.drop_table("moysklad_product")
    op.drop_index(
        "ix_moysklad_installation_purge_after",
        table_name="moysklad_installation",
        postgresql_where=sa.text("purged_at IS NULL AND purge_after IS NOT NULL"),
    )
    op.drop_table("moysklad_installation")
    op.drop_index("ix_moysklad_vendor_request_created_at", table_name="moysklad_vendor_request")
    op.drop_table("moysklad_vendor_request")
    op.drop_index("ix_moysklad_seen_jti_expires_at", table_name="moysklad_seen_jti")
    op.drop_table("moysklad_seen_jti")
