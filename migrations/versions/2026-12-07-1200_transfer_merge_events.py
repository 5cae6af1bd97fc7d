"""Webhook event types for back-office moves: `points.transferred` and `customer.merged`.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 12:00:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONSTRAINT = "ck_webhook_endpoint_event_types_known"
BEFORE = (
    "points.earned",
    "points.spent",
    "points.expired",
    "points.reversed",
    "points.expiring",
    "tier.changed",
    "voucher.redeemed",
)
AFTER = (*BEFORE, "points.transferred", "customer.merged")


def _replace(event_types: tuple[str, ...]) -> None:
    listed = ", ".join(f"'{name}'" for name in event_types)
    op.execute(f"ALTER TABLE webhook_endpoint DROP CONSTRAINT {CONSTRAINT}")
    # NOT VALID then VALIDATE: the check of existing rows takes no lock that stops writes.
    op.execute(
        f"ALTER TABLE webhook_endpoint ADD CONSTRAINT {CONSTRAINT}"
        f" CHECK (event_types <@ ARRAY[{listed}]::text[]) NOT VALID"
    )
    op.execute(f"ALTER TABLE webhook_endpoint VALIDATE CONSTRAINT {CONSTRAINT}")


def upgrade() -> None:
    _replace(AFTER)


def downgrade() -> None:
    # The older schema knows neither type: their events go, an endpoint that wanted nothing
    # else goes with its deliveries, and the others keep the rest of their types.
    new = "ARRAY['points.transferred', 'customer.merged']::text[]"
    op.execute(f"DELETE FROM webhook_delivery WHERE event_type = ANY({new})")
    op.execute(
        "DELETE FROM webhook_delivery d USING webhook_endpoint e"
        " WHERE d.account_id = e.account_id AND d.endpoint_id = e.id"
        f" AND e.event_types <@ {new}"
    )
    op.execute(f"DELETE FROM webhook_endpoint WHERE event_types <@ {new}")
    op.execute(
        "UPDATE webhook_endpoint SET event_types = array_remove(array_remove(event_types,"
        " 'points.transferred'), 'customer.merged') WHERE event_types && " + new
    )
    _replace(BEFORE)
