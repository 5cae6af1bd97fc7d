"""Retired cards: a card number replaced in the back office is never given out again.

The number is kept with the customer who held it. The trigger is the one check: any write
that puts a retired number on a customer fails with its own constraint name, which the services
turn into an answer for the cashier or operator. It runs AFTER the row is written, so it also
sees a replacement that committed while an insert waited on the old number's row (a BEFORE
trigger, like a look beforehand, would have found the number free).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 13:00:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "retired_card",
        sa.Column("account_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("card_number", sa.Text(), nullable=False),
        sa.Column("customer_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id", "customer_id"],
            ["customer.account_id", "customer.id"],
            name=op.f("fk_retired_card_account_id_customer_id_customer"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("account_id", "card_number", name=op.f("pk_retired_card")),
    )
    op.create_index(
        op.f("ix_retired_card_account_id_customer_id"),
        "retired_card",
        ["account_id", "customer_id"],
    )
    op.execute(
        """
        CREATE FUNCTION customer_card_not_retired() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM retired_card
                        WHERE account_id = NEW.account_id AND card_number = NEW.card_number) THEN
                RAISE EXCEPTION 'a retired card number cannot be given out again'
                    USING ERRCODE = 'check_violation',
                          CONSTRAINT = 'ck_customer_card_number_not_retired';
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER customer_card_not_retired AFTER INSERT OR UPDATE OF card_number"
        " ON customer FOR EACH ROW WHEN (NEW.card_number IS NOT NULL)"
        " EXECUTE FUNCTION customer_card_not_retired()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS customer_card_not_retired ON customer")
    op.execute("DROP FUNCTION IF EXISTS customer_card_not_retired()")
    op.drop_index(op.f("ix_retired_card_account_id_customer_id"), table_name="retired_card")
    op.drop_table("retired_card")
