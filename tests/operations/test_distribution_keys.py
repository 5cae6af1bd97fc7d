"""Every primary and unique key of a tenant table starts with `account_id`, so each table can
be distributed by account (Citus) without rewriting a key (docs/operations.md, "Scaling")."""

from __future__ import annotations

import sqlalchemy as sa

from loyalty.models import metadata
from tests.support.db import Database

# Account-level lookup tables: small, read on every request by a key that is not the account
# (the MoySklad account id, the token digest). Under Citus they become reference tables,
# copied to every node, so their global unique keys stay valid.
REFERENCE_TABLES = {"account", "api_token", "operator_api_key"}
# Vendor API bookkeeping, written before our account may exist and purged after a few minutes
# or days: keyed by MoySklad's own account id (one request log per MoySklad account) or by the
# JWT id (a replay guard across the whole solution). Under Citus they stay local tables on the
# coordinator, where the Vendor API is served.
SOLUTION_TABLES = {"moysklad_vendor_request", "moysklad_seen_jti"}
GLOBAL_KEYS = {
    ("account", ("id",)),  # the account id itself
    ("account", ("moysklad_account_id",)),
    ("api_token", ("token_hash",)),
    ("operator_api_key", ("key_hash",)),  # found by its digest, like a till token
    ("moysklad_vendor_request", ("moysklad_account_id", "request_id")),
    ("moysklad_seen_jti", ("jti",)),
}


def unique_keys(table: sa.Table) -> list[tuple[str, ...]]:
    keys = [tuple(column.name for column in table.primary_key.columns)]
    for constraint in table.constraints:
        if isinstance(constraint, sa.UniqueConstraint):
            keys.append(tuple(column.name for column in constraint.columns))
    keys += [
        tuple(column.name for column in index.columns) for index in table.indexes if index.unique
    ]
    return keys


def test_every_tenant_key_in_the_models_starts_with_account_id() -> None:
    offending = [
        (table.name, key)
        for table in metadata.sorted_tables
        for key in unique_keys(table)
        if key[0] != "account_id" and (table.name, key) not in GLOBAL_KEYS
    ]
    assert offending == []
    assert set(metadata.tables) >= REFERENCE_TABLES | SOLUTION_TABLES


def test_every_unique_index_in_the_migrated_database_starts_with_account_id(
    db: Database,
) -> None:
    # Catches keys that exist only in migrations (expression or partial unique indexes).
    rows = db.fetch(
        """
        SELECT t.relname AS table_name, i.relname AS index_name,
               array_agg(a.attname ORDER BY k.ordinality) AS columns
        FROM pg_index x
        JOIN pg_class t ON t.oid = x.indrelid
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ordinality)
        LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
        WHERE x.indisunique AND n.nspname = current_schema() AND t.relname <> 'alembic_version'
        GROUP BY t.relname, i.relname
        """
    )
    assert len(rows) >= len(metadata.tables)
    # An expression in the key leaves its column name NULL, which fails the check too.
    offending = [
        (row["table_name"], row["index_name"])
        for row in rows
        if row["columns"][0] != "account_id"
        and (row["table_name"], tuple(row["columns"])) not in GLOBAL_KEYS
    ]
    assert offending == []
