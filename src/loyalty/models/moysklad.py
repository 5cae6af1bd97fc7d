"""The MoySklad solution: installations, Vendor API bookkeeping, background tasks and the
catalogue mirrored from the JSON API (retail stores, product folders, products)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, UUID

from loyalty.models.base import created_at, metadata, updated_at

INSTALLATION_STATUSES = ("SettingsRequired", "Activated", "Suspended", "Uninstalled")
# disconnected: MoySklad has no till token of ours; connecting: a PUT /loyalty is in flight;
# unknown: it timed out or failed with 5xx (both tokens accepted); connected; failed: refused.
LOYALTY_STATES = ("disconnected", "connecting", "unknown", "connected", "failed")
TASK_KINDS = ("sync_catalogue", "connect_loyalty")
PRODUCT_KINDS = ("product", "service", "bundle", "variant")


def _account_key() -> sa.Column[Any]:
    return sa.Column(
        "account_id",
        UUID(as_uuid=True),
        sa.ForeignKey("account.id", ondelete="RESTRICT"),
        primary_key=True,
    )


moysklad_installation = sa.Table(
    "moysklad_installation",
    metadata,
    _account_key(),
    sa.Column("app_id", sa.Text, nullable=False),
    # What MoySklad knows of the solution on this account (spec §2.3).
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("last_cause", sa.Text, nullable=False),
    sa.Column("moysklad_account_name", sa.Text, nullable=True),
    # JSON API token from the activation, Fernet-encrypted; revoked by MoySklad on
    # Suspend and Uninstall, so it is dropped then.
    sa.Column("access_token_ciphertext", sa.LargeBinary, nullable=True),
    sa.Column("subscription", JSONB, nullable=True),
    # The merchant saved the settings or connected the tills: a resume or a reinstall
    # answers Activated.
    sa.Column("settings_saved_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("loyalty_state", sa.Text, nullable=False, server_default="disconnected"),
    sa.Column("loyalty_connected_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("loyalty_error_status", sa.Integer, nullable=True),
    sa.Column("loyalty_error_code", sa.Integer, nullable=True),
    sa.Column("loyalty_error_detail", sa.Text, nullable=True),
    # The till token being delivered to MoySklad, encrypted, kept only until MoySklad's answer
    # is known: a retry after a timeout must resend the same token, not a new one.
    sa.Column("pending_till_token_ciphertext", sa.LargeBinary, nullable=True),
    # Why the last `PUT …/status Activated` did not go through (retried in the background).
    sa.Column("status_report_error", sa.Text, nullable=True),
    # One connection attempt at a time per account (the attempt spans several transactions).
    sa.Column("connect_lease_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("catalogue_synced_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("catalogue_sync_error", sa.Text, nullable=True),
    sa.Column(
        "installed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("uninstalled_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("purge_after", sa.DateTime(timezone=True), nullable=True),
    sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
    updated_at(),
    sa.CheckConstraint(
        "status IN ('SettingsRequired', 'Activated', 'Suspended', 'Uninstalled')", name="status"
    ),
    sa.CheckConstraint(
        "loyalty_state IN ('disconnected', 'connecting', 'unknown', 'connected', 'failed')",
        name="loyalty_state",
    ),
    sa.CheckConstraint(
        "status IN ('SettingsRequired', 'Activated') OR access_token_ciphertext IS NULL",
        name="revoked_access_token_dropped",
    ),
    sa.CheckConstraint("(status = 'Uninstalled') = (purge_after IS NOT NULL)", name="purge_after"),
    sa.Index(
        "ix_moysklad_installation_purge_after",
        "purge_after",
        postgresql_where=sa.text("purged_at IS NULL AND purge_after IS NOT NULL"),
    ),
)

# Vendor API calls already answered, by MoySklad's X_Lognex_RequestId: a retry gets the same
# answer and changes nothing. Keyed by the MoySklad account, which may have no account of ours.
moysklad_vendor_request = sa.Table(
    "moysklad_vendor_request",
    metadata,
    sa.Column("moysklad_account_id", sa.Text, primary_key=True),
    sa.Column("request_id", sa.Text, primary_key=True),
    sa.Column("method", sa.Text, nullable=False),
    sa.Column("body_hash", sa.LargeBinary, nullable=False),
    sa.Column("jti", sa.Text, nullable=False),
    sa.Column("response_status", sa.Integer, nullable=False),
    sa.Column("response_body", sa.Text, nullable=True),
    created_at(),
    sa.Index("ix_moysklad_vendor_request_created_at", "created_at"),
)

# JWT ids of MoySklad's calls, kept until the token expires: a replayed token is refused.
moysklad_seen_jti = sa.Table(
    "moysklad_seen_jti",
    metadata,
    sa.Column("jti", sa.Text, primary_key=True),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_moysklad_seen_jti_expires_at", "expires_at"),
)

# Durable background work per account (one row per kind coalesces repeated requests).
# A worker leases a row, works without holding a transaction, then deletes or reschedules it.
moysklad_task = sa.Table(
    "moysklad_task",
    metadata,
    _account_key(),
    sa.Column("kind", sa.Text, primary_key=True),
    sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("run_after", sa.DateTime(timezone=True), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.CheckConstraint("kind IN ('sync_catalogue', 'connect_loyalty')", name="kind"),
    sa.CheckConstraint("attempts >= 0", name="attempts_non_negative"),
    sa.Index("ix_moysklad_task_run_after", "run_after"),
)

moysklad_retail_store = sa.Table(
    "moysklad_retail_store",
    metadata,
    _account_key(),
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
)

moysklad_product_folder = sa.Table(
    "moysklad_product_folder",
    metadata,
    _account_key(),
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("path_name", sa.Text, nullable=False, server_default=""),
    sa.Column("parent_id", sa.Text, nullable=True),
    sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
)

# Everything a receipt position can carry as its assortment, mapped to its folder: variants
# inherit the folder of their product, so a position resolves with one key lookup.
moysklad_product = sa.Table(
    "moysklad_product",
    metadata,
    _account_key(),
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("path_name", sa.Text, nullable=False, server_default=""),
    sa.Column("folder_id", sa.Text, nullable=True),
    sa.Column("product_id", sa.Text, nullable=True),
    sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('product', 'service', 'bundle', 'variant')", name="kind"),
    sa.CheckConstraint("(kind = 'variant') = (product_id IS NOT NULL)", name="variant_product"),
    sa.Index("ix_moysklad_product_account_id_folder_id", "account_id", "folder_id"),
)
