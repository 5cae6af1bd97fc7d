"""Core ledger: accounts, tokens, program settings, customers, balances, ledger, lots, sales, returns, codes.

The invariants live in PostgreSQL as well as in the application:
- customer_balance changes only through ledger_entry inserts (trigger), so balance = Σ entries;
- CHECKs refuse a negative available, pending or debt balance;
- every ledger transaction sums to zero (deferred constraint trigger);
- ledger_transaction, ledger_entry and points_lot_movement are append-only.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 02:12:15.803382+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


INVARIANT_SQL = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_customer_account_id_name_trgm ON customer USING gin (lower(name) gin_trgm_ops)",
    "CREATE INDEX ix_customer_account_id_email_lower ON customer (account_id, lower(email))",
    # Balances move only with ledger entries: the entry carries the running balance and version.
    """
    CREATE FUNCTION ledger_entry_apply_balance() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.customer_id IS NULL THEN
            RETURN NEW;
        END IF;
        UPDATE customer_balance
           SET available_points = available_points
                   + CASE WHEN NEW.bucket = 'available' THEN NEW.amount_points ELSE 0 END,
               pending_points = pending_points
                   + CASE WHEN NEW.bucket = 'pending' THEN NEW.amount_points ELSE 0 END,
               debt_points = debt_points
                   - CASE WHEN NEW.bucket = 'debt' THEN NEW.amount_points ELSE 0 END,
               version = version + 1
         WHERE account_id = NEW.account_id AND customer_id = NEW.customer_id
        RETURNING CASE NEW.bucket
                      WHEN 'available' THEN available_points
                      WHEN 'pending' THEN pending_points
                      ELSE -debt_points
                  END,
                  version
             INTO NEW.balance_after_points, NEW.account_version;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'no balance row for customer %', NEW.customer_id
                USING ERRCODE = '23503';
        END IF;
        RETURN NEW;
    END
    $$
    """,
    """
    CREATE TRIGGER ledger_entry_apply_balance BEFORE INSERT ON ledger_entry
        FOR EACH ROW EXECUTE FUNCTION ledger_entry_apply_balance()
    """,
    """
    CREATE FUNCTION customer_balance_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            IF NEW.available_points <> 0 OR NEW.pending_points <> 0 OR NEW.debt_points <> 0
               OR NEW.version <> 0 THEN
                RAISE EXCEPTION 'a customer balance starts at zero'
                    USING ERRCODE = '23514', CONSTRAINT = 'customer_balance_from_ledger_only';
            END IF;
            RETURN NEW;
        END IF;
        IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION 'customer balances are never deleted'
                USING ERRCODE = '23514', CONSTRAINT = 'customer_balance_from_ledger_only';
        END IF;
        IF (NEW.available_points, NEW.pending_points, NEW.debt_points, NEW.version)
               IS DISTINCT FROM
           (OLD.available_points, OLD.pending_points, OLD.debt_points, OLD.version)
           AND pg_trigger_depth() < 2 THEN
            RAISE EXCEPTION 'customer balances change only through ledger entries'
                USING ERRCODE = '23514', CONSTRAINT = 'customer_balance_from_ledger_only';
        END IF;
        RETURN NEW;
    END
    $$
    """,
    """
    CREATE TRIGGER customer_balance_guard BEFORE INSERT OR UPDATE OR DELETE ON customer_balance
        FOR EACH ROW EXECUTE FUNCTION customer_balance_guard()
    """,
    # Double entry: checked at COMMIT, once all entries of the transaction are in.
    """
    CREATE FUNCTION ledger_transaction_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        total numeric;
    BEGIN
        SELECT sum(amount_points) INTO total
          FROM ledger_entry
         WHERE account_id = NEW.account_id AND transaction_id = NEW.transaction_id;
        IF total <> 0 THEN
            RAISE EXCEPTION 'ledger transaction % is unbalanced by % points', NEW.transaction_id, total
                USING ERRCODE = '23514', CONSTRAINT = 'ledger_transaction_balanced';
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE CONSTRAINT TRIGGER ledger_entry_balanced AFTER INSERT ON ledger_entry
        DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW EXECUTE FUNCTION ledger_transaction_check_balanced()
    """,
    """
    CREATE FUNCTION ledger_forbid_mutation() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
            USING ERRCODE = '23514', CONSTRAINT = 'ledger_append_only';
    END
    $$
    """,
    *[
        statement
        for table in ("ledger_transaction", "ledger_entry", "points_lot_movement")
        for statement in (
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
            " FOR EACH ROW EXECUTE FUNCTION ledger_forbid_mutation()",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION ledger_forbid_mutation()",
        )
    ],
]

DROP_INVARIANT_SQL = [
    *[
        statement
        for table in ("ledger_transaction", "ledger_entry", "points_lot_movement")
        for statement in (
            f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
            f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
        )
    ],
    "DROP TRIGGER IF EXISTS ledger_entry_balanced ON ledger_entry",
    "DROP TRIGGER IF EXISTS ledger_entry_apply_balance ON ledger_entry",
    "DROP TRIGGER IF EXISTS customer_balance_guard ON customer_balance",
    "DROP FUNCTION IF EXISTS ledger_forbid_mutation()",
    "DROP FUNCTION IF EXISTS ledger_transaction_check_balanced()",
    "DROP FUNCTION IF EXISTS customer_balance_guard()",
    "DROP FUNCTION IF EXISTS ledger_entry_apply_balance()",
    "DROP INDEX IF EXISTS ix_customer_account_id_email_lower",
    "DROP INDEX IF EXISTS ix_customer_account_id_name_trgm",
]


def upgrade() -> None:
    op.create_table(
        "account",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("moysklad_account_id", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="active", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('active', 'suspended', 'uninstalled')", name=op.f("ck_account_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account")),
        sa.UniqueConstraint("moysklad_account_id", name=op.f("uq_account_moysklad_account_id")),
    )
    op.create_table(
        "api_token",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('active', 'pending', 'revoked')", name=op.f("ck_api_token_state")
        ),
        sa.CheckConstraint(
            "octet_length(token_hash) = 32", name=op.f("ck_api_token_token_hash_length")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_api_token_account_id_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_api_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_token_token_hash")),
    )
    op.create_table(
        "customer",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("moysklad_id", sa.Text(), nullable=True),
        sa.Column("sync_id", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("phone_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("phone_index", sa.LargeBinary(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("card_number", sa.Text(), nullable=True),
        sa.Column("legal_first_name", sa.Text(), nullable=True),
        sa.Column("legal_middle_name", sa.Text(), nullable=True),
        sa.Column("legal_last_name", sa.Text(), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("sex", sa.Text(), nullable=True),
        sa.Column("verified", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "sex IS NULL OR sex IN ('MALE', 'FEMALE')", name=op.f("ck_customer_sex")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_customer_account_id_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_customer")),
        sa.UniqueConstraint(
            "account_id", "card_number", name=op.f("uq_customer_account_id_card_number")
        ),
        sa.UniqueConstraint(
            "account_id", "moysklad_id", name=op.f("uq_customer_account_id_moysklad_id")
        ),
        sa.UniqueConstraint("account_id", "sync_id", name=op.f("uq_customer_account_id_sync_id")),
    )
    op.create_index(
        "ix_customer_account_id_phone_index",
        "customer",
        ["account_id", "phone_index"],
        unique=False,
    )
    op.create_table(
        "ledger_transaction",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("customer_id", sa.UUID(), nullable=True),
        sa.Column("document_kind", sa.Text(), nullable=True),
        sa.Column("document_id", sa.BigInteger(), nullable=True),
        sa.Column("reverses_transaction_id", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor", sa.Text(), nullable=True),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('sale', 'return', 'welcome', 'adjustment', 'activation', 'expiry')",
            name=op.f("ck_ledger_transaction_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_ledger_transaction_account_id_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_ledger_transaction")),
        sa.UniqueConstraint(
            "account_id",
            "idempotency_key",
            name=op.f("uq_ledger_transaction_account_id_idempotency_key"),
        ),
    )
    op.create_index(
        "ix_ledger_transaction_account_id_customer_id_id",
        "ledger_transaction",
        ["account_id", "customer_id", "id"],
        unique=False,
    )
    op.create_table(
        "program_settings",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column(
            "earn_percent", sa.Numeric(precision=5, scale=2), server_default="5", nullable=False
        ),
        sa.Column(
            "max_spend_percent",
            sa.Numeric(precision=5, scale=2),
            server_default="50",
            nullable=False,
        ),
        sa.Column("earn_on_spend", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("activation_delay_days", sa.Integer(), server_default="0", nullable=False),
        sa.Column("expiry_days", sa.Integer(), nullable=True),
        sa.Column("welcome_bonus_points", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "verify_registration", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("verify_spend_above_points", sa.BigInteger(), nullable=True),
        sa.Column("auto_enroll", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("receipt_text", sa.Text(), server_default="", nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="1", nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "activation_delay_days >= 0 AND activation_delay_days <= 3650",
            name=op.f("ck_program_settings_activation_delay_days"),
        ),
        sa.CheckConstraint(
            "earn_percent >= 0 AND earn_percent <= 100",
            name=op.f("ck_program_settings_earn_percent"),
        ),
        sa.CheckConstraint(
            "expiry_days IS NULL OR (expiry_days > 0 AND expiry_days <= 36500)",
            name=op.f("ck_program_settings_expiry_days"),
        ),
        sa.CheckConstraint(
            "max_spend_percent >= 0 AND max_spend_percent <= 100",
            name=op.f("ck_program_settings_max_spend_percent"),
        ),
        sa.CheckConstraint(
            "verify_spend_above_points IS NULL OR verify_spend_above_points >= 0",
            name=op.f("ck_program_settings_verify_spend_above_points"),
        ),
        sa.CheckConstraint(
            "welcome_bonus_points >= 0", name=op.f("ck_program_settings_welcome_bonus_points")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_program_settings_account_id_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_program_settings")),
    )
    op.create_table(
        "sale",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("request_hash", sa.LargeBinary(), nullable=False),
        sa.Column("moysklad_id", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("moment", sa.Text(), nullable=True),
        sa.Column("retail_store_id", sa.Text(), nullable=True),
        sa.Column("customer_id", sa.UUID(), nullable=True),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("paid_minor", sa.BigInteger(), nullable=False),
        sa.Column("cash_sum_minor", sa.BigInteger(), nullable=True),
        sa.Column("no_cash_sum_minor", sa.BigInteger(), nullable=True),
        sa.Column("spent_points", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("earned_points", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("requested_earn_points", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("ledger_transaction_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "spent_points >= 0 AND earned_points >= 0", name=op.f("ck_sale_points_non_negative")
        ),
        sa.CheckConstraint(
            "total_minor >= 0 AND paid_minor >= 0 AND paid_minor <= total_minor",
            name=op.f("ck_sale_sums"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_sale_account_id_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_sale")),
        sa.UniqueConstraint(
            "account_id", "idempotency_key", name=op.f("uq_sale_account_id_idempotency_key")
        ),
    )
    op.create_index(
        "ix_sale_account_id_customer_id", "sale", ["account_id", "customer_id"], unique=False
    )
    op.create_index(
        "ix_sale_account_id_moysklad_id", "sale", ["account_id", "moysklad_id"], unique=False
    )
    op.create_table(
        "verification_code",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("phone_index", sa.LargeBinary(), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(), nullable=False),
        sa.Column("retail_store_id", sa.Text(), nullable=True),
        sa.Column("customer_id", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "purpose IN ('registration', 'spending')", name=op.f("ck_verification_code_purpose")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_verification_code_account_id_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_verification_code")),
    )
    op.create_index(
        "ix_verification_code_account_id_phone_index_created_at",
        "verification_code",
        ["account_id", "phone_index", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_verification_code_account_id_retail_store_id_created_at",
        "verification_code",
        ["account_id", "retail_store_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "customer_balance",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("customer_id", sa.UUID(), nullable=False),
        sa.Column("available_points", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("pending_points", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("debt_points", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("next_maturity_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "available_points >= 0", name=op.f("ck_customer_balance_available_points_non_negative")
        ),
        sa.CheckConstraint(
            "debt_points >= 0", name=op.f("ck_customer_balance_debt_points_non_negative")
        ),
        sa.CheckConstraint(
            "pending_points >= 0", name=op.f("ck_customer_balance_pending_points_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "customer_id"],
            ["customer.account_id", "customer.id"],
            name=op.f("fk_customer_balance_account_id_customer_id_customer"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("account_id", "customer_id", name=op.f("pk_customer_balance")),
    )
    op.create_table(
        "ledger_entry",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("transaction_id", sa.BigInteger(), nullable=False),
        sa.Column("bucket", sa.Text(), nullable=False),
        sa.Column("customer_id", sa.UUID(), nullable=True),
        sa.Column("amount_points", sa.BigInteger(), nullable=False),
        sa.Column("balance_after_points", sa.BigInteger(), nullable=True),
        sa.Column("account_version", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "(customer_id IS NOT NULL AND bucket IN ('available', 'pending', 'debt')) OR (customer_id IS NULL AND bucket IN ('issued', 'redeemed', 'expired', 'adjustment'))",
            name=op.f("ck_ledger_entry_bucket_owner"),
        ),
        sa.CheckConstraint(
            "amount_points <> 0", name=op.f("ck_ledger_entry_amount_points_non_zero")
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "transaction_id"],
            ["ledger_transaction.account_id", "ledger_transaction.id"],
            name=op.f("fk_ledger_entry_account_id_transaction_id_ledger_transaction"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_ledger_entry")),
    )
    op.create_index(
        "ix_ledger_entry_account_id_customer_id_id",
        "ledger_entry",
        ["account_id", "customer_id", "id"],
        unique=False,
        postgresql_where=sa.text("customer_id IS NOT NULL"),
    )
    op.create_index(
        "ix_ledger_entry_account_id_transaction_id",
        "ledger_entry",
        ["account_id", "transaction_id"],
        unique=False,
    )
    op.create_table(
        "points_lot",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("customer_id", sa.UUID(), nullable=False),
        sa.Column("transaction_id", sa.BigInteger(), nullable=False),
        sa.Column("amount_points", sa.BigInteger(), nullable=False),
        sa.Column("remaining_points", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("activates_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "state <> 'closed' OR remaining_points = 0", name=op.f("ck_points_lot_closed_is_empty")
        ),
        sa.CheckConstraint(
            "state IN ('pending', 'active', 'closed')", name=op.f("ck_points_lot_state")
        ),
        sa.CheckConstraint("amount_points > 0", name=op.f("ck_points_lot_amount_points_positive")),
        sa.CheckConstraint(
            "remaining_points >= 0 AND remaining_points <= amount_points",
            name=op.f("ck_points_lot_remaining_points_range"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "customer_id"],
            ["customer.account_id", "customer.id"],
            name=op.f("fk_points_lot_account_id_customer_id_customer"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "transaction_id"],
            ["ledger_transaction.account_id", "ledger_transaction.id"],
            name=op.f("fk_points_lot_account_id_transaction_id_ledger_transaction"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_points_lot")),
    )
    op.create_index(
        "ix_points_lot_account_id_customer_id_live",
        "points_lot",
        ["account_id", "customer_id"],
        unique=False,
        postgresql_where=sa.text("state <> 'closed'"),
    )
    op.create_table(
        "sale_line",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("sale_id", sa.BigInteger(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("assortment_id", sa.Text(), nullable=True),
        sa.Column("quantity", sa.Numeric(precision=15, scale=3), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=False),
        sa.Column("discounted_price_minor", sa.BigInteger(), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("paid_minor", sa.BigInteger(), nullable=False),
        sa.Column("spent_points", sa.BigInteger(), nullable=False),
        sa.Column("earned_points", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "price_minor >= 0 AND discounted_price_minor >= 0",
            name=op.f("ck_sale_line_prices_non_negative"),
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_sale_line_quantity_positive")),
        sa.CheckConstraint(
            "spent_points >= 0 AND earned_points >= 0",
            name=op.f("ck_sale_line_points_non_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "sale_id"],
            ["sale.account_id", "sale.id"],
            name=op.f("fk_sale_line_account_id_sale_id_sale"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("account_id", "sale_id", "line_no", name=op.f("pk_sale_line")),
    )
    op.create_table(
        "sales_return",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("request_hash", sa.LargeBinary(), nullable=False),
        sa.Column("moysklad_id", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("moment", sa.Text(), nullable=True),
        sa.Column("retail_store_id", sa.Text(), nullable=True),
        sa.Column("sale_id", sa.BigInteger(), nullable=True),
        sa.Column("demand_moysklad_id", sa.Text(), nullable=True),
        sa.Column("customer_id", sa.UUID(), nullable=True),
        sa.Column("returned_minor", sa.BigInteger(), nullable=False),
        sa.Column("refunded_spent_points", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("reclaimed_earned_points", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("forgiven_expired_points", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("debt_points", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cash_sum", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("no_cash_sum", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("ledger_transaction_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "refunded_spent_points >= 0 AND reclaimed_earned_points >= 0 AND debt_points >= 0"
            " AND forgiven_expired_points >= 0"
            " AND debt_points + forgiven_expired_points <= reclaimed_earned_points",
            name=op.f("ck_sales_return_points_non_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "sale_id"],
            ["sale.account_id", "sale.id"],
            name=op.f("fk_sales_return_account_id_sale_id_sale"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_sales_return_account_id_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_sales_return")),
        sa.UniqueConstraint(
            "account_id", "idempotency_key", name=op.f("uq_sales_return_account_id_idempotency_key")
        ),
    )
    op.create_index(
        "ix_sales_return_account_id_sale_id",
        "sales_return",
        ["account_id", "sale_id"],
        unique=False,
    )
    op.create_table(
        "points_lot_movement",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("transaction_id", sa.BigInteger(), nullable=False),
        sa.Column("lot_id", sa.BigInteger(), nullable=False),
        sa.Column("amount_points", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "amount_points <> 0", name=op.f("ck_points_lot_movement_amount_points_non_zero")
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "lot_id"],
            ["points_lot.account_id", "points_lot.id"],
            name=op.f("fk_points_lot_movement_account_id_lot_id_points_lot"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "transaction_id"],
            ["ledger_transaction.account_id", "ledger_transaction.id"],
            name=op.f("fk_points_lot_movement_account_id_transaction_id_ledger_transaction"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_points_lot_movement")),
    )
    op.create_index(
        "ix_points_lot_movement_account_id_lot_id",
        "points_lot_movement",
        ["account_id", "lot_id"],
        unique=False,
    )
    op.create_index(
        "ix_points_lot_movement_account_id_transaction_id",
        "points_lot_movement",
        ["account_id", "transaction_id"],
        unique=False,
    )
    op.create_table(
        "sales_return_line",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("return_id", sa.BigInteger(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("sale_line_no", sa.Integer(), nullable=True),
        sa.Column("assortment_id", sa.Text(), nullable=True),
        sa.Column("quantity", sa.Numeric(precision=15, scale=3), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=False),
        sa.Column("discounted_price_minor", sa.BigInteger(), nullable=False),
        sa.Column("returned_minor", sa.BigInteger(), nullable=False),
        sa.Column("refunded_spent_points", sa.BigInteger(), nullable=False),
        sa.Column("reclaimed_earned_points", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_sales_return_line_quantity_positive")),
        sa.CheckConstraint(
            "refunded_spent_points >= 0 AND reclaimed_earned_points >= 0",
            name=op.f("ck_sales_return_line_points_non_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "return_id"],
            ["sales_return.account_id", "sales_return.id"],
            name=op.f("fk_sales_return_line_account_id_return_id_sales_return"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint(
            "account_id", "return_id", "line_no", name=op.f("pk_sales_return_line")
        ),
    )

    for statement in INVARIANT_SQL:
        op.execute(statement)


def downgrade() -> None:
    for statement in DROP_INVARIANT_SQL:
        op.execute(statement)
    op.drop_table("sales_return_line")
    op.drop_index(
        "ix_points_lot_movement_account_id_transaction_id", table_name="points_lot_movement"
    )
    op.drop_index("ix_points_lot_movement_account_id_lot_id", table_name="points_lot_movement")
    op.drop_table("points_lot_movement")
    op.drop_index("ix_sales_return_account_id_sale_id", table_name="sales_return")
    op.drop_table("sales_return")
    op.drop_table("sale_line")
    op.drop_index(
        "ix_points_lot_account_id_customer_id_live",
        table_name="points_lot",
        postgresql_where=sa.text("state <> 'closed'"),
    )
    op.drop_table("points_lot")
    op.drop_index("ix_ledger_entry_account_id_transaction_id", table_name="ledger_entry")
    op.drop_index(
        "ix_ledger_entry_account_id_customer_id_id",
        table_name="ledger_entry",
        postgresql_where=sa.text("customer_id IS NOT NULL"),
    )
    op.drop_table("ledger_entry")
    op.drop_table("customer_balance")
    op.drop_index(
        "ix_verification_code_account_id_retail_store_id_created_at", table_name="verification_code"
    )
    op.drop_index(
        "ix_verification_code_account_id_phone_index_created_at", table_name="verification_code"
    )
    op.drop_table("verification_code")
    op.drop_index("ix_sale_account_id_moysklad_id", table_name="sale")
    op.drop_index("ix_sale_account_id_customer_id", table_name="sale")
    op.drop_table("sale")
    op.drop_table("program_settings")
    op.drop_index(
        "ix_ledger_transaction_account_id_customer_id_id", table_name="ledger_transaction"
    )
    op.drop_table("ledger_transaction")
    op.drop_index("ix_customer_account_id_phone_index", table_name="customer")
    op.drop_table("customer")
    op.drop_table("api_token")
    op.drop_table("account")
