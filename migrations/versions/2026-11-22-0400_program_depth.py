"""Program depth: tiers over a rolling window of months, and category rules.

- program_tier: the account's tiers, keyed by threshold (so thresholds are strictly increasing);
- program_settings.tier_window_months: how many calendar months of purchases count;
- customer_purchase_month: net purchases per customer and month (CHECKs: never negative);
- customer_tier / customer_tier_change: the tier last derived and the append-only history;
- category_rule: earn percent or exclusions per product folder or product.

Revision ID: 0004
Revises: 0006
Create Date: 2026-11-22 04:00:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _account_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["account_id"],
        ["account.id"],
        name=op.f(f"fk_{table}_account_id_account"),
        ondelete="RESTRICT",
    )


def _customer_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["account_id", "customer_id"],
        ["customer.account_id", "customer.id"],
        name=op.f(f"fk_{table}_account_id_customer_id_customer"),
        ondelete="RESTRICT",
    )


def upgrade() -> None:
    op.add_column(
        "program_settings",
        sa.Column("tier_window_months", sa.SmallInteger(), server_default="12", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_program_settings_tier_window_months"),
        "program_settings",
        "tier_window_months >= 1 AND tier_window_months <= 120",
    )
    op.create_table(
        "program_tier",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("threshold_minor", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("earn_percent", sa.Numeric(5, 2), nullable=False),
        sa.Column("max_spend_percent", sa.Numeric(5, 2), nullable=False),
        sa.CheckConstraint(
            "threshold_minor >= 0", name=op.f("ck_program_tier_threshold_non_negative")
        ),
        sa.CheckConstraint(
            "char_length(name) BETWEEN 1 AND 100", name=op.f("ck_program_tier_name_length")
        ),
        sa.CheckConstraint(
            "earn_percent >= 0 AND earn_percent <= 100", name=op.f("ck_program_tier_earn_percent")
        ),
        sa.CheckConstraint(
            "max_spend_percent >= 0 AND max_spend_percent <= 100",
            name=op.f("ck_program_tier_max_spend_percent"),
        ),
        _account_fk("program_tier"),
        sa.PrimaryKeyConstraint("account_id", "threshold_minor", name=op.f("pk_program_tier")),
        sa.UniqueConstraint("account_id", "name", name=op.f("uq_program_tier_account_id_name")),
    )
    op.create_table(
        "category_rule",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("target_kind", sa.Text(), nullable=False),
        sa.Column("target_id", sa.Text(), nullable=False),
        sa.Column("earn_percent", sa.Numeric(5, 2), nullable=True),
        sa.Column("no_earn", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("no_spend", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.CheckConstraint(
            "target_kind IN ('folder', 'product')", name=op.f("ck_category_rule_target_kind")
        ),
        sa.CheckConstraint(
            "char_length(target_id) BETWEEN 1 AND 255",
            name=op.f("ck_category_rule_target_id_length"),
        ),
        sa.CheckConstraint(
            "earn_percent IS NULL OR (earn_percent >= 0 AND earn_percent <= 100)",
            name=op.f("ck_category_rule_earn_percent"),
        ),
        sa.CheckConstraint(
            "NOT (no_earn AND earn_percent IS NOT NULL)",
            name=op.f("ck_category_rule_earn_or_no_earn"),
        ),
        sa.CheckConstraint(
            "earn_percent IS NOT NULL OR no_earn OR no_spend",
            name=op.f("ck_category_rule_has_effect"),
        ),
        _account_fk("category_rule"),
        sa.PrimaryKeyConstraint(
            "account_id", "target_kind", "target_id", name=op.f("pk_category_rule")
        ),
    )
    op.create_table(
        "customer_purchase_month",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("customer_id", sa.UUID(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("purchased_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("returned_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.CheckConstraint(
            "purchased_minor >= 0", name=op.f("ck_customer_purchase_month_purchased_non_negative")
        ),
        sa.CheckConstraint(
            "returned_minor >= 0", name=op.f("ck_customer_purchase_month_returned_non_negative")
        ),
        sa.CheckConstraint(
            "EXTRACT(DAY FROM month) = 1", name=op.f("ck_customer_purchase_month_first_of_month")
        ),
        _customer_fk("customer_purchase_month"),
        sa.PrimaryKeyConstraint(
            "account_id", "customer_id", "month", name=op.f("pk_customer_purchase_month")
        ),
    )
    op.create_table(
        "customer_tier",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("customer_id", sa.UUID(), nullable=False),
        sa.Column("tier_name", sa.Text(), nullable=True),
        sa.Column("window_total_minor", sa.BigInteger(), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("review_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "window_total_minor >= 0", name=op.f("ck_customer_tier_window_total_non_negative")
        ),
        _customer_fk("customer_tier"),
        sa.PrimaryKeyConstraint("account_id", "customer_id", name=op.f("pk_customer_tier")),
    )
    op.create_index(
        "ix_customer_tier_account_id_review_at",
        "customer_tier",
        ["account_id", "review_at"],
        unique=False,
    )
    op.create_table(
        "customer_tier_change",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("customer_id", sa.UUID(), nullable=False),
        sa.Column("from_tier", sa.Text(), nullable=True),
        sa.Column("to_tier", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("window_total_minor", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "reason IN ('sale', 'return', 'window', 'program')",
            name=op.f("ck_customer_tier_change_reason"),
        ),
        sa.CheckConstraint(
            "from_tier IS DISTINCT FROM to_tier", name=op.f("ck_customer_tier_change_is_a_change")
        ),
        _customer_fk("customer_tier_change"),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_customer_tier_change")),
    )
    op.create_index(
        "ix_customer_tier_change_account_id_customer_id_id",
        "customer_tier_change",
        ["account_id", "customer_id", "id"],
        unique=False,
    )
    # History is append-only, like the ledger and the audit log (same guard, from 0001).
    op.execute(
        "CREATE TRIGGER customer_tier_change_append_only BEFORE UPDATE OR DELETE"
        " ON customer_tier_change FOR EACH ROW EXECUTE FUNCTION ledger_forbid_mutation()"
    )
    op.execute(
        "CREATE TRIGGER customer_tier_change_no_truncate BEFORE TRUNCATE"
        " ON customer_tier_change FOR EACH STATEMENT EXECUTE FUNCTION ledger_forbid_mutation()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER customer_tier_change_no_truncate ON customer_tier_change")
    op.execute("DROP TRIGGER customer_tier_change_append_only ON customer_tier_change")
    op.drop_index(
        "ix_customer_tier_change_account_id_customer_id_id", table_name="customer_tier_change"
    )
    op.drop_table("customer_tier_change")
    op.drop_index("ix_customer_tier_account_id_review_at", table_name="customer_tier")
    op.drop_table("customer_tier")
    op.drop_table("customer_purchase_month")
    op.drop_table("category_rule")
    op.drop_table("program_tier")
    op.drop_constraint(
        op.f("ck_program_settings_tier_window_months"), "program_settings", type_="check"
    )
    op.drop_column("program_settings", "tier_window_months")
