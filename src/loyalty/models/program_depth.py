"""Program depth: tiers (levels) by purchases over a rolling window, and category rules.

A customer's tier is derived from `customer_purchase_month` (paid purchases and returns per
calendar month, UTC) and the account's `program_tier` list; `customer_tier` stores the tier last
derived, so a change can be noticed and written once to `customer_tier_change`.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID

from loyalty.models.base import metadata

TIER_CHANGE_REASONS = ("sale", "return", "window", "program")
CATEGORY_RULE_TARGETS = ("folder", "product")

program_tier = sa.Table(
    "program_tier",
    metadata,
    sa.Column(
        "account_id",
        UUID(as_uuid=True),
        sa.ForeignKey("account.id", ondelete="RESTRICT"),
        primary_key=True,
    ),
    # Unique per account, so ordering by threshold orders the tiers strictly.
    sa.Column("threshold_minor", sa.BigInteger, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("earn_percent", sa.Numeric(5, 2), nullable=False),
    sa.Column("max_spend_percent", sa.Numeric(5, 2), nullable=False),
    sa.CheckConstraint("threshold_minor >= 0", name="threshold_non_negative"),
    sa.CheckConstraint("char_length(name) BETWEEN 1 AND 100", name="name_length"),
    sa.CheckConstraint("earn_percent >= 0 AND earn_percent <= 100", name="earn_percent"),
    sa.CheckConstraint(
        "max_spend_percent >= 0 AND max_spend_percent <= 100", name="max_spend_percent"
    ),
    sa.UniqueConstraint("account_id", "name"),
)

category_rule = sa.Table(
    "category_rule",
    metadata,
    sa.Column(
        "account_id",
        UUID(as_uuid=True),
        sa.ForeignKey("account.id", ondelete="RESTRICT"),
        primary_key=True,
    ),
    sa.Column("target_kind", sa.Text, primary_key=True),
    # A MoySklad product folder id, or an assortment id (product, service, bundle, variant).
    sa.Column("target_id", sa.Text, primary_key=True),
    sa.Column("earn_percent", sa.Numeric(5, 2), nullable=True),
    sa.Column("no_earn", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("no_spend", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.CheckConstraint("target_kind IN ('folder', 'product')", name="target_kind"),
    sa.CheckConstraint("char_length(target_id) BETWEEN 1 AND 255", name="target_id_length"),
    sa.CheckConstraint(
        "earn_percent IS NULL OR (earn_percent >= 0 AND earn_percent <= 100)", name="earn_percent"
    ),
    sa.CheckConstraint("NOT (no_earn AND earn_percent IS NOT NULL)", name="earn_or_no_earn"),
    sa.CheckConstraint("earn_percent IS NOT NULL OR no_earn OR no_spend", name="has_effect"),
)

# Net purchases per customer and calendar month: the window total is a sum over ≤ N rows.
customer_purchase_month = sa.Table(
    "customer_purchase_month",
    metadata,
    sa.Column("account_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("customer_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("month", sa.Date, primary_key=True),
    sa.Column("purchased_minor", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("returned_minor", sa.BigInteger, nullable=False, server_default="0"),
    sa.CheckConstraint("purchased_minor >= 0", name="purchased_non_negative"),
    sa.CheckConstraint("returned_minor >= 0", name="returned_non_negative"),
    sa.CheckConstraint("EXTRACT(DAY FROM month) = 1", name="first_of_month"),
    sa.ForeignKeyConstraint(
        ["account_id", "customer_id"], ["customer.account_id", "customer.id"], ondelete="RESTRICT"
    ),
)

customer_tier = sa.Table(
    "customer_tier",
    metadata,
    sa.Column("account_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("customer_id", UUID(as_uuid=True), primary_key=True),
    # NULL: below the lowest threshold (the program's own percents apply).
    sa.Column("tier_name", sa.Text, nullable=True),
    sa.Column("window_total_minor", sa.BigInteger, nullable=False),
    sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
    # When the oldest counted month leaves the window (or the tiers changed): re-derive then.
    sa.Column("review_at", sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("window_total_minor >= 0", name="window_total_non_negative"),
    sa.ForeignKeyConstraint(
        ["account_id", "customer_id"], ["customer.account_id", "customer.id"], ondelete="RESTRICT"
    ),
    sa.Index("ix_customer_tier_account_id_review_at", "account_id", "review_at"),
)

# Append-only history; every change goes through tiers.service.change_tier.
customer_tier_change = sa.Table(
    "customer_tier_change",
    metadata,
    sa.Column("account_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("customer_id", UUID(as_uuid=True), nullable=False),
    sa.Column("from_tier", sa.Text, nullable=True),
    sa.Column("to_tier", sa.Text, nullable=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("window_total_minor", sa.BigInteger, nullable=False),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("reason IN ('sale', 'return', 'window', 'program')", name="reason"),
    sa.CheckConstraint("from_tier IS DISTINCT FROM to_tier", name="is_a_change"),
    sa.ForeignKeyConstraint(
        ["account_id", "customer_id"], ["customer.account_id", "customer.id"], ondelete="RESTRICT"
    ),
    sa.Index(
        "ix_customer_tier_change_account_id_customer_id_id", "account_id", "customer_id", "id"
    ),
)
