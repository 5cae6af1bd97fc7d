"""Vouchers and gift certificates, operator API keys, the audit log, client throttling.

The voucher ledger's invariants live in PostgreSQL:
- a voucher's balance, use count, status and version change only through voucher_movement
  inserts (trigger), so balance = Σ movements and uses = Σ use deltas;
- status transitions are checked there too: only an ISSUED voucher can be redeemed, only a NEW
  one issued, and a void or expired voucher holds nothing;
- CHECKs refuse a negative balance and uses beyond the voucher's, the batch's or (trigger) the
  customer's limit;
- voucher_movement and audit_log are append-only.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 03:00:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY_TABLES = ("voucher_movement", "audit_log")

INVARIANT_SQL = [
    # Each movement moves the voucher: balance, uses, status, version, and its running state.
    """
    CREATE FUNCTION voucher_movement_apply() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        current voucher%ROWTYPE;
        next_status text;
        next_balance bigint;
        next_used integer;
        batch_usage_limit integer;
        batch_customer_limit integer;
        customer_used integer;
    BEGIN
        SELECT * INTO current FROM voucher
         WHERE account_id = NEW.account_id AND id = NEW.voucher_id
           FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'no voucher %', NEW.voucher_id USING ERRCODE = '23503';
        END IF;
        -- A replay (ON CONFLICT DO NOTHING will skip this row) must change nothing. Keys are
        -- scoped to the voucher, whose row lock we now hold, so the check cannot race; a
        -- voucher that never moved has no movements to look for (bulk issues skip the query).
        IF current.version > 0 AND EXISTS (
               SELECT 1 FROM voucher_movement
                WHERE account_id = NEW.account_id
                  AND idempotency_key = NEW.idempotency_key) THEN
            RETURN NEW;
        END IF;
        IF NEW.batch_id IS DISTINCT FROM current.batch_id THEN
            RAISE EXCEPTION 'movement batch % does not match voucher batch %',
                NEW.batch_id, current.batch_id
                USING ERRCODE = '23514', CONSTRAINT = 'voucher_movement_batch';
        END IF;
        next_status := current.status;
        IF NEW.kind IN ('issue', 'import') THEN
            IF current.status <> 'NEW' THEN
                RAISE EXCEPTION 'voucher % is %, only a NEW voucher is issued', current.id,
                    current.status USING ERRCODE = '23514', CONSTRAINT = 'voucher_status_transition';
            END IF;
            next_status := 'ISSUED';
        ELSIF NEW.kind = 'redeem' THEN
            IF current.status <> 'ISSUED' THEN
                RAISE EXCEPTION 'voucher % is %, only an ISSUED voucher is redeemed', current.id,
                    current.status USING ERRCODE = '23514', CONSTRAINT = 'voucher_status_transition';
            END IF;
        ELSIF NEW.kind = 'void' THEN
            IF current.status NOT IN ('NEW', 'ISSUED') THEN
                RAISE EXCEPTION 'voucher % is %, it cannot be voided', current.id,
                    current.status USING ERRCODE = '23514', CONSTRAINT = 'voucher_status_transition';
            END IF;
            next_status := 'VOID';
        ELSIF NEW.kind = 'expire' THEN
            IF current.status <> 'ISSUED' THEN
                RAISE EXCEPTION 'voucher % is %, only an ISSUED voucher expires', current.id,
                    current.status USING ERRCODE = '23514', CONSTRAINT = 'voucher_status_transition';
            END IF;
            next_status := 'EXPIRED';
        ELSIF current.status IN ('NEW', 'VOID', 'EXPIRED') THEN
            RAISE EXCEPTION 'voucher % is %, its balance cannot change', current.id,
                current.status USING ERRCODE = '23514', CONSTRAINT = 'voucher_status_transition';
        END IF;
        next_balance := current.balance_minor + NEW.amount_minor;
        next_used := current.used_count + NEW.uses_delta;
        IF next_status IN ('ISSUED', 'REDEEMED') THEN
            IF (current.has_balance AND next_balance = 0)
               OR (current.usage_limit IS NOT NULL AND next_used >= current.usage_limit) THEN
                next_status := 'REDEEMED';
            ELSE
                next_status := 'ISSUED';
            END IF;
        END IF;
        UPDATE voucher
           SET balance_minor = next_balance,
               used_count = next_used,
               initial_balance_minor = CASE WHEN NEW.kind IN ('issue', 'import')
                                            THEN NEW.amount_minor
                                            ELSE initial_balance_minor END,
               version = version + 1,
               status = next_status,
               status_changed_at = CASE WHEN next_status <> current.status
                                        THEN NEW.occurred_at ELSE status_changed_at END,
               last_used_at = CASE WHEN NEW.uses_delta > 0
                                   THEN NEW.occurred_at ELSE last_used_at END,
               updated_at = now()
         WHERE account_id = NEW.account_id AND id = NEW.voucher_id
        RETURNING balance_minor, used_count, version
             INTO NEW.balance_after_minor, NEW.used_count_after, NEW.voucher_version;
        IF NEW.uses_delta <> 0 THEN
            SELECT usage_limit, per_customer_limit
              INTO batch_usage_limit, batch_customer_limit
              FROM voucher_batch
             WHERE account_id = NEW.account_id AND id = NEW.batch_id;
            IF batch_usage_limit IS NOT NULL THEN
                UPDATE voucher_batch SET used_count = used_count + NEW.uses_delta
                 WHERE account_id = NEW.account_id AND id = NEW.batch_id;
            END IF;
            IF batch_customer_limit IS NOT NULL AND NEW.customer_id IS NOT NULL THEN
                INSERT INTO voucher_customer_usage AS usage
                       (account_id, batch_id, customer_id, used_count)
                VALUES (NEW.account_id, NEW.batch_id, NEW.customer_id, NEW.uses_delta)
                ON CONFLICT (account_id, batch_id, customer_id)
                DO UPDATE SET used_count = usage.used_count + EXCLUDED.used_count
                RETURNING used_count INTO customer_used;
                IF customer_used > batch_customer_limit THEN
                    RAISE EXCEPTION 'customer % used batch % % times, the limit is %',
                        NEW.customer_id, NEW.batch_id, customer_used, batch_customer_limit
                        USING ERRCODE = '23514', CONSTRAINT = 'voucher_customer_usage_limit';
                END IF;
            END IF;
        END IF;
        RETURN NEW;
    END
    $$
    """,
    """
    CREATE TRIGGER voucher_movement_apply BEFORE INSERT ON voucher_movement
        FOR EACH ROW EXECUTE FUNCTION voucher_movement_apply()
    """,
    # The ledger-kept columns: a voucher starts empty and NEW; only movements change them.
    """
    CREATE FUNCTION voucher_state_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            IF NEW.status <> 'NEW' OR NEW.balance_minor <> 0 OR NEW.initial_balance_minor <> 0
               OR NEW.used_count <> 0 OR NEW.version <> 0 OR NEW.last_used_at IS NOT NULL THEN
                RAISE EXCEPTION 'a voucher starts NEW and empty'
                    USING ERRCODE = '23514', CONSTRAINT = 'voucher_state_from_movements_only';
            END IF;
            RETURN NEW;
        END IF;
        IF (NEW.status, NEW.balance_minor, NEW.initial_balance_minor, NEW.used_count,
            NEW.version, NEW.last_used_at, NEW.status_changed_at)
               IS DISTINCT FROM
           (OLD.status, OLD.balance_minor, OLD.initial_balance_minor, OLD.used_count,
            OLD.version, OLD.last_used_at, OLD.status_changed_at)
           AND pg_trigger_depth() < 2 THEN
            RAISE EXCEPTION 'voucher state changes only through voucher movements'
                USING ERRCODE = '23514', CONSTRAINT = 'voucher_state_from_movements_only';
        END IF;
        IF (NEW.voucher_type, NEW.has_balance, NEW.batch_id, NEW.code, NEW.serial_number)
               IS DISTINCT FROM
           (OLD.voucher_type, OLD.has_balance, OLD.batch_id, OLD.code, OLD.serial_number) THEN
            RAISE EXCEPTION 'a voucher keeps its code, serial number, batch and type'
                USING ERRCODE = '23514', CONSTRAINT = 'voucher_identity_immutable';
        END IF;
        RETURN NEW;
    END
    $$
    """,
    """
    CREATE TRIGGER voucher_state_guard BEFORE INSERT OR UPDATE ON voucher
        FOR EACH ROW EXECUTE FUNCTION voucher_state_guard()
    """,
    """
    CREATE FUNCTION voucher_counter_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF pg_trigger_depth() >= 2 THEN
            RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
        END IF;
        IF TG_TABLE_NAME = 'voucher_batch' THEN
            IF TG_OP = 'INSERT' AND NEW.used_count = 0 THEN
                RETURN NEW;
            END IF;
            IF TG_OP = 'UPDATE' AND NEW.used_count = OLD.used_count
               AND (NEW.usage_limit, NEW.per_customer_limit)
                   IS NOT DISTINCT FROM (OLD.usage_limit, OLD.per_customer_limit) THEN
                RETURN NEW;
            END IF;
        END IF;
        RAISE EXCEPTION '% use counters change only through voucher movements', TG_TABLE_NAME
            USING ERRCODE = '23514', CONSTRAINT = 'voucher_usage_from_movements_only';
    END
    $$
    """,
    """
    CREATE TRIGGER voucher_batch_counter_guard BEFORE INSERT OR UPDATE ON voucher_batch
        FOR EACH ROW EXECUTE FUNCTION voucher_counter_guard()
    """,
    """
    CREATE TRIGGER voucher_customer_usage_guard
        BEFORE INSERT OR UPDATE OR DELETE ON voucher_customer_usage
        FOR EACH ROW EXECUTE FUNCTION voucher_counter_guard()
    """,
    *[
        statement
        for table in APPEND_ONLY_TABLES
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
        for table in APPEND_ONLY_TABLES
        for statement in (
            f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
            f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
        )
    ],
    "DROP TRIGGER IF EXISTS voucher_customer_usage_guard ON voucher_customer_usage",
    "DROP TRIGGER IF EXISTS voucher_batch_counter_guard ON voucher_batch",
    "DROP TRIGGER IF EXISTS voucher_state_guard ON voucher",
    "DROP TRIGGER IF EXISTS voucher_movement_apply ON voucher_movement",
    "DROP FUNCTION IF EXISTS voucher_counter_guard()",
    "DROP FUNCTION IF EXISTS voucher_state_guard()",
    "DROP FUNCTION IF EXISTS voucher_movement_apply()",
]


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("entity_type", sa.Text(), nullable=False),
        sa.Column("entity_id", sa.Text(), nullable=True),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("retail_store_id", sa.Text(), nullable=True),
        sa.Column("document", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_audit_log_account_id_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_audit_log")),
    )
    op.create_index(
        "ix_audit_log_account_id_entity_type_entity_id_id",
        "audit_log",
        ["account_id", "entity_type", "entity_id", "id"],
        unique=False,
    )
    op.create_table(
        "client_throttle",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("client_key", sa.Text(), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "scope IN ('code_lookup', 'rate_limit')", name=op.f("ck_client_throttle_scope")
        ),
        sa.CheckConstraint("hits >= 0", name=op.f("ck_client_throttle_hits_non_negative")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_client_throttle_account_id_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint(
            "account_id", "scope", "client_key", name=op.f("pk_client_throttle")
        ),
    )
    op.create_table(
        "operator_api_key",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.LargeBinary(), nullable=False),
        sa.Column("key_prefix", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IN ('admin', 'operator', 'read-only')", name=op.f("ck_operator_api_key_role")
        ),
        sa.CheckConstraint(
            "octet_length(key_hash) = 32", name=op.f("ck_operator_api_key_key_hash_length")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_operator_api_key_account_id_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_operator_api_key")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_operator_api_key_key_hash")),
    )
    op.create_table(
        "voucher_batch",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("voucher_type", sa.Text(), nullable=False),
        sa.Column("currency", sa.Text(), server_default="RUB", nullable=False),
        sa.Column("face_value_minor", sa.BigInteger(), nullable=True),
        sa.Column("discount_percent", sa.Numeric(precision=5, scale=2), nullable=True),
        sa.Column("has_balance", sa.Boolean(), nullable=False),
        sa.Column("min_spend_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("max_use_percent", sa.Numeric(precision=5, scale=2), nullable=True),
        sa.Column("uses_per_voucher", sa.Integer(), nullable=True),
        sa.Column("usage_limit", sa.Integer(), nullable=True),
        sa.Column("per_customer_limit", sa.Integer(), nullable=True),
        sa.Column("used_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("expiry_type", sa.Text(), server_default="NONE", nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expiry_days", sa.Integer(), nullable=True),
        sa.Column("code_length", sa.Integer(), nullable=False),
        sa.Column("code_alphabet", sa.Text(), nullable=False),
        sa.Column("code_prefix", sa.Text(), server_default="", nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
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
            "(expiry_type = 'NONE' AND expires_at IS NULL AND expiry_days IS NULL) OR (expiry_type = 'FIXED' AND expires_at IS NOT NULL AND expiry_days IS NULL) OR (expiry_type = 'DYNAMIC' AND expires_at IS NULL AND expiry_days > 0)",
            name=op.f("ck_voucher_batch_expiry"),
        ),
        sa.CheckConstraint(
            "(voucher_type = 'DISCOUNT' AND discount_percent > 0 AND discount_percent <= 100 AND face_value_minor IS NULL AND NOT has_balance) OR (voucher_type = 'CASH' AND discount_percent IS NULL AND face_value_minor > 0) OR (voucher_type = 'GIFT' AND discount_percent IS NULL AND face_value_minor > 0 AND has_balance)",
            name=op.f("ck_voucher_batch_value"),
        ),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_voucher_batch_currency")),
        sa.CheckConstraint(
            "voucher_type IN ('GIFT', 'DISCOUNT', 'CASH')",
            name=op.f("ck_voucher_batch_voucher_type"),
        ),
        sa.CheckConstraint(
            "(uses_per_voucher IS NULL OR uses_per_voucher > 0) AND (usage_limit IS NULL OR usage_limit > 0) AND (per_customer_limit IS NULL OR per_customer_limit > 0)",
            name=op.f("ck_voucher_batch_limits_positive"),
        ),
        sa.CheckConstraint(
            "code_length BETWEEN 6 AND 32 AND length(code_alphabet) BETWEEN 10 AND 64",
            name=op.f("ck_voucher_batch_code_format"),
        ),
        sa.CheckConstraint(
            "max_use_percent IS NULL OR (max_use_percent > 0 AND max_use_percent <= 100)",
            name=op.f("ck_voucher_batch_max_use_percent"),
        ),
        sa.CheckConstraint("min_spend_minor >= 0", name=op.f("ck_voucher_batch_min_spend_minor")),
        sa.CheckConstraint(
            "used_count >= 0 AND (usage_limit IS NULL OR used_count <= usage_limit)",
            name=op.f("ck_voucher_batch_used_within_limit"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_voucher_batch_account_id_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_voucher_batch")),
        sa.UniqueConstraint("account_id", "code", name=op.f("uq_voucher_batch_account_id_code")),
    )
    op.create_table(
        "voucher_serial",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("last_serial", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "last_serial >= 0", name=op.f("ck_voucher_serial_last_serial_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_voucher_serial_account_id_account"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_voucher_serial")),
    )
    op.create_table(
        "voucher",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("batch_id", sa.UUID(), nullable=False),
        sa.Column("serial_number", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("voucher_type", sa.Text(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("face_value_minor", sa.BigInteger(), nullable=True),
        sa.Column("discount_percent", sa.Numeric(precision=5, scale=2), nullable=True),
        sa.Column("has_balance", sa.Boolean(), nullable=False),
        sa.Column("min_spend_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("max_use_percent", sa.Numeric(precision=5, scale=2), nullable=True),
        sa.Column("usage_limit", sa.Integer(), nullable=True),
        sa.Column("pin_hash", sa.LargeBinary(), nullable=True),
        sa.Column("customer_id", sa.UUID(), nullable=True),
        sa.Column("origin", sa.Text(), server_default="SYSTEM", nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.Text(), server_default="NEW", nullable=False),
        sa.Column("balance_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("initial_balance_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("used_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True),
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
            "(voucher_type = 'DISCOUNT' AND discount_percent > 0 AND discount_percent <= 100 AND NOT has_balance) OR (voucher_type = 'CASH' AND discount_percent IS NULL AND face_value_minor > 0) OR (voucher_type = 'GIFT' AND discount_percent IS NULL AND has_balance)",
            name=op.f("ck_voucher_value"),
        ),
        sa.CheckConstraint("origin IN ('SYSTEM', 'SELF')", name=op.f("ck_voucher_origin")),
        sa.CheckConstraint(
            "status IN ('NEW', 'ISSUED', 'REDEEMED', 'VOID', 'EXPIRED')",
            name=op.f("ck_voucher_status"),
        ),
        sa.CheckConstraint(
            "status NOT IN ('VOID', 'EXPIRED') OR balance_minor = 0",
            name=op.f("ck_voucher_closed_is_empty"),
        ),
        sa.CheckConstraint(
            "voucher_type IN ('GIFT', 'DISCOUNT', 'CASH')", name=op.f("ck_voucher_voucher_type")
        ),
        sa.CheckConstraint("balance_minor >= 0", name=op.f("ck_voucher_balance_non_negative")),
        sa.CheckConstraint(
            "has_balance OR balance_minor = 0",
            name=op.f("ck_voucher_balance_only_when_stored_value"),
        ),
        sa.CheckConstraint("min_spend_minor >= 0", name=op.f("ck_voucher_min_spend_minor")),
        sa.CheckConstraint(
            "usage_limit IS NULL OR usage_limit > 0", name=op.f("ck_voucher_usage_limit_positive")
        ),
        sa.CheckConstraint(
            "used_count >= 0 AND (usage_limit IS NULL OR used_count <= usage_limit)",
            name=op.f("ck_voucher_used_within_limit"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "batch_id"],
            ["voucher_batch.account_id", "voucher_batch.id"],
            name=op.f("fk_voucher_account_id_batch_id_voucher_batch"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "customer_id"],
            ["customer.account_id", "customer.id"],
            name=op.f("fk_voucher_account_id_customer_id_customer"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_voucher")),
        sa.UniqueConstraint("account_id", "code", name=op.f("uq_voucher_account_id_code")),
        sa.UniqueConstraint(
            "account_id", "serial_number", name=op.f("uq_voucher_account_id_serial_number")
        ),
    )
    op.create_index(
        "ix_voucher_account_id_batch_id_serial_number",
        "voucher",
        ["account_id", "batch_id", "serial_number"],
        unique=False,
    )
    op.create_index(
        "ix_voucher_account_id_customer_id",
        "voucher",
        ["account_id", "customer_id"],
        unique=False,
        postgresql_where=sa.text("customer_id IS NOT NULL"),
    )
    op.create_table(
        "voucher_customer_usage",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("batch_id", sa.UUID(), nullable=False),
        sa.Column("customer_id", sa.UUID(), nullable=False),
        sa.Column("used_count", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "used_count >= 0", name=op.f("ck_voucher_customer_usage_used_count_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "batch_id"],
            ["voucher_batch.account_id", "voucher_batch.id"],
            name=op.f("fk_voucher_customer_usage_account_id_batch_id_voucher_batch"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint(
            "account_id", "batch_id", "customer_id", name=op.f("pk_voucher_customer_usage")
        ),
    )
    op.create_table(
        "voucher_generation",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("batch_id", sa.UUID(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=True),
        sa.Column("voucher_count", sa.Integer(), nullable=False),
        sa.Column("first_serial", sa.BigInteger(), nullable=False),
        sa.Column("last_serial", sa.BigInteger(), nullable=False),
        sa.Column("issued", sa.Boolean(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "voucher_count > 0 AND last_serial - first_serial + 1 = voucher_count",
            name=op.f("ck_voucher_generation_range"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "batch_id"],
            ["voucher_batch.account_id", "voucher_batch.id"],
            name=op.f("fk_voucher_generation_account_id_batch_id_voucher_batch"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_voucher_generation")),
        sa.UniqueConstraint(
            "account_id",
            "idempotency_key",
            name=op.f("uq_voucher_generation_account_id_idempotency_key"),
        ),
    )
    op.create_table(
        "voucher_movement",
        sa.Column("account_id", sa.UUID(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("voucher_id", sa.UUID(), nullable=False),
        sa.Column("batch_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("uses_delta", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("applied_minor", sa.BigInteger(), nullable=True),
        sa.Column("customer_id", sa.UUID(), nullable=True),
        sa.Column("sale_id", sa.BigInteger(), nullable=True),
        sa.Column("return_id", sa.BigInteger(), nullable=True),
        sa.Column("retail_store_id", sa.Text(), nullable=True),
        sa.Column("document", sa.Text(), nullable=True),
        sa.Column("actor", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("balance_after_minor", sa.BigInteger(), nullable=True),
        sa.Column("used_count_after", sa.Integer(), nullable=True),
        sa.Column("voucher_version", sa.BigInteger(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(kind IN ('issue', 'import') AND amount_minor >= 0 AND uses_delta >= 0) OR (kind = 'redeem' AND amount_minor <= 0 AND uses_delta >= 0 AND (amount_minor < 0 OR uses_delta > 0)) OR (kind = 'refund' AND amount_minor >= 0 AND uses_delta <= 0 AND (amount_minor > 0 OR uses_delta < 0)) OR (kind = 'adjust' AND amount_minor <> 0 AND uses_delta = 0) OR (kind IN ('void', 'expire') AND amount_minor <= 0 AND uses_delta = 0)",
            name=op.f("ck_voucher_movement_direction"),
        ),
        sa.CheckConstraint(
            "kind IN ('issue', 'import', 'redeem', 'refund', 'adjust', 'void', 'expire')",
            name=op.f("ck_voucher_movement_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "voucher_id"],
            ["voucher.account_id", "voucher.id"],
            name=op.f("fk_voucher_movement_account_id_voucher_id_voucher"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_voucher_movement")),
        sa.UniqueConstraint(
            "account_id",
            "idempotency_key",
            name=op.f("uq_voucher_movement_account_id_idempotency_key"),
        ),
    )
    op.create_index(
        "ix_voucher_movement_account_id_sale_id",
        "voucher_movement",
        ["account_id", "sale_id"],
        unique=False,
        postgresql_where=sa.text("sale_id IS NOT NULL"),
    )
    op.create_index(
        "ix_voucher_movement_account_id_voucher_id_id",
        "voucher_movement",
        ["account_id", "voucher_id", "id"],
        unique=False,
    )
    op.add_column(
        "program_settings",
        sa.Column(
            "restore_gift_cards_on_return",
            sa.Boolean(),
            server_default=sa.text("true"),
            nullable=False,
        ),
    )
    op.add_column(
        "program_settings",
        sa.Column(
            "apply_personal_vouchers", sa.Boolean(), server_default=sa.text("true"), nullable=False
        ),
    )
    op.add_column(
        "program_settings",
        sa.Column("voucher_stacking", sa.Text(), server_default="stack", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_program_settings_voucher_stacking"),
        "program_settings",
        "voucher_stacking IN ('stack', 'exclusive')",
    )
    for statement in INVARIANT_SQL:
        op.execute(statement)


def downgrade() -> None:
    for statement in DROP_INVARIANT_SQL:
        op.execute(statement)
    op.drop_constraint(
        op.f("ck_program_settings_voucher_stacking"), "program_settings", type_="check"
    )
    op.drop_column("program_settings", "voucher_stacking")
    op.drop_column("program_settings", "apply_personal_vouchers")
    op.drop_column("program_settings", "restore_gift_cards_on_return")
    op.drop_index("ix_voucher_movement_account_id_voucher_id_id", table_name="voucher_movement")
    op.drop_index(
        "ix_voucher_movement_account_id_sale_id",
        table_name="voucher_movement",
        postgresql_where=sa.text("sale_id IS NOT NULL"),
    )
    op.drop_table("voucher_movement")
    op.drop_table("voucher_generation")
    op.drop_table("voucher_customer_usage")
    op.drop_index(
        "ix_voucher_account_id_customer_id",
        table_name="voucher",
        postgresql_where=sa.text("customer_id IS NOT NULL"),
    )
    op.drop_index("ix_voucher_account_id_batch_id_serial_number", table_name="voucher")
    op.drop_table("voucher")
    op.drop_table("voucher_serial")
    op.drop_table("voucher_batch")
    op.drop_table("operator_api_key")
    op.drop_table("client_throttle")
    op.drop_index("ix_audit_log_account_id_entity_type_entity_id_id", table_name="audit_log")
    op.drop_table("audit_log")
