"""Every change to what a till's token resolves to (the token, its account, the program
settings, tiers and category rules) sends a notification on commit, so each worker can keep
the resolved account in memory and drop it the moment it changes.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 10:00:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "loyalty_account_changed"
# table -> the column naming the account
WATCHED_TABLES = {
    "account": "id",
    "api_token": "account_id",
    "program_settings": "account_id",
    "program_tier": "account_id",
    "category_rule": "account_id",
}


def upgrade() -> None:
    # One function per table keeps the column reference static (no dynamic SQL per row);
    # PostgreSQL folds identical notifications of one transaction into one.
    for table, column in WATCHED_TABLES.items():
        op.execute(
            f"""
            CREATE FUNCTION {table}_notify_account_changed() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'DELETE' THEN
                    PERFORM pg_notify('{CHANNEL}', OLD.{column}::text);
                ELSE
                    PERFORM pg_notify('{CHANNEL}', NEW.{column}::text);
                    IF TG_OP = 'UPDATE' AND NEW.{column} IS DISTINCT FROM OLD.{column} THEN
                        PERFORM pg_notify('{CHANNEL}', OLD.{column}::text);
                    END IF;
                END IF;
                RETURN NULL;
            END $$
            """
        )
        op.execute(
            f"CREATE TRIGGER {table}_notify_account_changed"
            f" AFTER INSERT OR UPDATE OR DELETE ON {table}"
            f" FOR EACH ROW EXECUTE FUNCTION {table}_notify_account_changed()"
        )
    op.execute(
        f"""
        CREATE FUNCTION notify_every_account_changed() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', '*');
            RETURN NULL;
        END $$
        """
    )
    for table in WATCHED_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_truncate_notify_account_changed AFTER TRUNCATE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION notify_every_account_changed()"
        )


def downgrade() -> None:
    for table in WATCHED_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_truncate_notify_account_changed ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_notify_account_changed ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {table}_notify_account_changed()")
    op.execute("DROP FUNCTION IF EXISTS notify_every_account_changed()")
