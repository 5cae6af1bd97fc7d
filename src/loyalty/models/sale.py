"""Committed sales and returns, kept line by line so returns can be reversed exactly."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID

from loyalty.models.base import created_at, metadata

sale = sa.Table(
    "sale",
    metadata,
    sa.Column(
        "account_id",
        UUID(as_uuid=True),
        sa.ForeignKey("account.id", ondelete="RESTRICT"),
        primary_key=True,
    ),
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("idempotency_key", sa.Text, nullable=False),
    sa.Column("request_hash", sa.LargeBinary, nullable=False),
    sa.Column("moysklad_id", sa.Text, nullable=True),
    sa.Column("name", sa.Text, nullable=True),
    sa.Column("moment", sa.Text, nullable=True),
    sa.Column("retail_store_id", sa.Text, nullable=True),
    sa.Column("customer_id", UUID(as_uuid=True), nullable=True),
    sa.Column("total_minor", sa.BigInteger, nullable=False),
    sa.Column("paid_minor", sa.BigInteger, nullable=False),
    sa.Column("cash_sum_minor", sa.BigInteger, nullable=True),
    sa.Column("no_cash_sum_minor", sa.BigInteger, nullable=True),
    sa.Column("spent_points", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("earned_points", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("requested_earn_points", sa.Numeric(18, 2), nullable=True),
    sa.Column("ledger_transaction_id", sa.BigInteger, nullable=True),
    created_at(),
    sa.CheckConstraint(
        "total_minor >= 0 AND paid_minor >= 0 AND paid_minor <= total_minor", name="sums"
    ),
    sa.CheckConstraint("spent_points >= 0 AND earned_points >= 0", name="points_non_negative"),
    sa.UniqueConstraint("account_id", "idempotency_key"),
    sa.Index("ix_sale_account_id_moysklad_id", "account_id", "moysklad_id"),
    sa.Index("ix_sale_account_id_customer_id", "account_id", "customer_id"),
    # Reports: sales by day, read from the index alone (the columns are set once, by the sale's
    # own transaction, so the rows are all-visible after the next vacuum).
    sa.Index(
        "ix_sale_account_id_created_at",
        "account_id",
        "created_at",
        postgresql_include=[
            "retail_store_id",
            "customer_id",
            "earned_points",
            "spent_points",
            "paid_minor",
        ],
    ),
)

sale_line = sa.Table(
    "sale_line",
    metadata,
    sa.Column("account_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("sale_id", sa.BigInteger, primary_key=True),
    sa.Column("line_no", sa.Integer, primary_key=True),
    sa.Column("assortment_id", sa.Text, nullable=True),
    sa.Column("quantity", sa.Numeric(15, 3), nullable=False),
    sa.Column("price_minor", sa.BigInteger, nullable=False),
    sa.Column("discounted_price_minor", sa.BigInteger, nullable=False),
    sa.Column("total_minor", sa.BigInteger, nullable=False),
    sa.Column("paid_minor", sa.BigInteger, nullable=False),
    sa.Column("spent_points", sa.BigInteger, nullable=False),
    sa.Column("earned_points", sa.BigInteger, nullable=False),
    sa.CheckConstraint("quantity > 0", name="quantity_positive"),
    sa.CheckConstraint(
        "price_minor >= 0 AND discounted_price_minor >= 0", name="prices_non_negative"
    ),
    sa.CheckConstraint("spent_points >= 0 AND earned_points >= 0", name="points_non_negative"),
    sa.ForeignKeyConstraint(
        ["account_id", "sale_id"], ["sale.account_id", "sale.id"], ondelete="RESTRICT"
    ),
)

sales_return = sa.Table(
    "sales_return",
    metadata,
    sa.Column(
        "account_id",
        UUID(as_uuid=True),
        sa.ForeignKey("account.id", ondelete="RESTRICT"),
        primary_key=True,
    ),
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("idempotency_key", sa.Text, nullable=False),
    sa.Column("request_hash", sa.LargeBinary, nullable=False),
    sa.Column("moysklad_id", sa.Text, nullable=True),
    sa.Column("name", sa.Text, nullable=True),
    sa.Column("moment", sa.Text, nullable=True),
    sa.Column("retail_store_id", sa.Text, nullable=True),
    sa.Column("sale_id", sa.BigInteger, nullable=True),
    sa.Column("demand_moysklad_id", sa.Text, nullable=True),
    sa.Column("customer_id", UUID(as_uuid=True), nullable=True),
    sa.Column("returned_minor", sa.BigInteger, nullable=False),
    sa.Column("refunded_spent_points", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("reclaimed_earned_points", sa.BigInteger, nullable=False, server_default="0"),
    # Earned points whose lot had already expired: nothing left to take back.
    sa.Column("forgiven_expired_points", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("debt_points", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("cash_sum", sa.Numeric(18, 2), nullable=True),
    sa.Column("no_cash_sum", sa.Numeric(18, 2), nullable=True),
    sa.Column("ledger_transaction_id", sa.BigInteger, nullable=True),
    created_at(),
    sa.CheckConstraint(
        "refunded_spent_points >= 0 AND reclaimed_earned_points >= 0 AND debt_points >= 0"
        " AND forgiven_expired_points >= 0"
        " AND debt_points + forgiven_expired_points <= reclaimed_earned_points",
        name="points_non_negative",
    ),
    sa.UniqueConstraint("account_id", "idempotency_key"),
    sa.ForeignKeyConstraint(
        ["account_id", "sale_id"], ["sale.account_id", "sale.id"], ondelete="RESTRICT"
    ),
    sa.Index("ix_sales_return_account_id_sale_id", "account_id", "sale_id"),
    # Reports: returns by day.
    sa.Index("ix_sales_return_account_id_created_at", "account_id", "created_at"),
)

sales_return_line = sa.Table(
    "sales_return_line",
    metadata,
    sa.Column("account_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("return_id", sa.BigInteger, primary_key=True),
    sa.Column("line_no", sa.Integer, primary_key=True),
    sa.Column("sale_line_no", sa.Integer, nullable=True),
    sa.Column("assortment_id", sa.Text, nullable=True),
    sa.Column("quantity", sa.Numeric(15, 3), nullable=False),
    sa.Column("price_minor", sa.BigInteger, nullable=False),
    sa.Column("discounted_price_minor", sa.BigInteger, nullable=False),
    sa.Column("returned_minor", sa.BigInteger, nullable=False),
    sa.Column("refunded_spent_points", sa.BigInteger, nullable=False),
    sa.Column("reclaimed_earned_points", sa.BigInteger, nullable=False),
    sa.CheckConstraint("quantity > 0", name="quantity_positive"),
    sa.CheckConstraint(
        "refunded_spent_points >= 0 AND reclaimed_earned_points >= 0", name="points_non_negative"
    ),
    sa.ForeignKeyConstraint(
        ["account_id", "return_id"],
        ["sales_return.account_id", "sales_return.id"],
        ondelete="RESTRICT",
    ),
)
