"""The posting statement gets a cached generic plan: PostgreSQL must not plan every posting
anew once a customer's lots fill the table (0.37 ms of server CPU per sale on the bench)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.ledger.repository import _POST_TRANSACTION, _posting_with_document
from loyalty.sales.repository import _LINES_WITH_POSTING
from tests.conftest import Tenant
from tests.support import payloads
from tests.support.db import Database

LOTS = 20_000
POSTINGS = 12  # PostgreSQL weighs a generic plan after five custom ones

_TYPES = {
    "account_id": "uuid",
    "kind": "text",
    "idempotency_key": "text",
    "customer_id": "uuid",
    "document_kind": "text",
    "document_id": "bigint",
    "reverses_transaction_id": "bigint",
    "reason": "text",
    "actor": "text",
    "effective_at": "timestamptz",
    "draw_lot_ids": "text",
    "draw_points": "text",
    "lot_points": "bigint",
    "lot_state": "text",
    "activates_at": "timestamptz",
    "expires_at": "timestamptz",
    "buckets": "text",
    "entry_customer_ids": "text",
    "amounts": "text",
}


# A sale's posting carries the sale's lines and outcome (`sales.repository.lines_with_posting`).
_LINE_TYPES = {
    "sale_id": "bigint",
    "sale_customer_id": "uuid",
    "spent_total_points": "bigint",
    "earned_total_points": "bigint",
    **{
        column: "text"
        for column in (
            "line_nos",
            "assortment_ids",
            "quantities",
            "prices_minor",
            "discounted_prices_minor",
            "totals_minor",
            "paid_minor",
            "spent_points",
            "earned_points",
        )
    },
}


@pytest.mark.parametrize("with_lines", [False, True], ids=["posting", "posting with lines"])
def test_earning_postings_reuse_one_generic_plan(
    tenant: Tenant, db: Database, with_lines: bool
) -> None:
    customer_ms_id = tenant.register()
    tenant.buy(customer_ms_id, [payloads.position(payloads.new_id(), 1, 1000)])
    statement = _posting_with_document(_LINES_WITH_POSTING) if with_lines else _POST_TRANSACTION
    compiled = statement.sql
    order = list(statement.names)
    types = _TYPES | (_LINE_TYPES if with_lines else {})
    assert set(order) == set(types)

    async def plans(session: AsyncSession) -> Any:
        connection = await session.connection()
        ids = (
            await session.execute(
                text(
                    "SELECT c.id AS customer_id, t.id AS transaction_id, t.document_id AS sale_id"
                    " FROM customer c"
                    " JOIN ledger_transaction t ON t.account_id = c.account_id"
                    " AND t.customer_id = c.id AND t.kind = 'sale' WHERE c.account_id = :account"
                    " AND c.moysklad_id = :ms_id LIMIT 1"
                ),
                {"account": tenant.account_id, "ms_id": customer_ms_id},
            )
        ).one()
        savepoint = await session.begin_nested()
        # A busy customer: many lots, and statistics that know it.
        await session.execute(
            text(
                "INSERT INTO points_lot (account_id, customer_id, transaction_id, amount_points,"
                " remaining_points, state, activates_at) SELECT :account, :customer, :transaction,"
                " 1, 1, 'active', now() FROM generate_series(1, :lots)"
            ),
            {
                "account": tenant.account_id,
                "customer": ids.customer_id,
                "transaction": ids.transaction_id,
                "lots": LOTS,
            },
        )
        await connection.exec_driver_sql("ANALYZE points_lot")
        await connection.exec_driver_sql(
            f"PREPARE posting ({', '.join(types[name] for name in order)}) AS {compiled}"
        )
        now = f"'{datetime.now(UTC).isoformat()}'"
        for number in range(POSTINGS):
            values = {
                "account_id": f"'{tenant.account_id}'",
                "kind": "'sale'",
                "idempotency_key": f"'plan-test:{uuid.uuid4()}'",
                "customer_id": f"'{ids.customer_id}'",
                "document_kind": "NULL",
                "document_id": "NULL",
                "reverses_transaction_id": "NULL",
                "reason": "NULL",
                "actor": "NULL",
                "effective_at": now,
                "draw_lot_ids": "'{}'",
                "draw_points": "'{}'",
                "lot_points": str(10 + number),
                "lot_state": "'active'",
                "activates_at": now,
                "expires_at": "NULL",
                "buckets": "'{available,issued}'",
                "entry_customer_ids": f"'{{{ids.customer_id},NULL}}'",
                "amounts": f"'{{{10 + number},{-(10 + number)}}}'",
                "sale_id": str(ids.sale_id),
                "sale_customer_id": f"'{ids.customer_id}'",
                "spent_total_points": "0",
                "earned_total_points": str(10 + number),
                "line_nos": f"'{{{100 + number}}}'",
                "assortment_ids": "'{\"product\"}'",
                "quantities": "'{1.5}'",
                "prices_minor": "'{1000}'",
                "discounted_prices_minor": "'{1000}'",
                "totals_minor": "'{1500}'",
                "paid_minor": "'{1500}'",
                "spent_points": "'{0}'",
                "earned_points": f"'{{{10 + number}}}'",
            }
            await connection.exec_driver_sql(
                f"EXECUTE posting ({', '.join(values[name] for name in order)})"
            )
        counted = (
            await connection.exec_driver_sql(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
                " WHERE name = 'posting'"
            )
        ).one()
        await connection.exec_driver_sql("DEALLOCATE posting")
        await savepoint.rollback()
        return counted

    generic_plans, custom_plans = db.run(plans)
    # Five custom plans to learn the cost, then the cached generic plan for the rest.
    assert custom_plans <= 5
    assert generic_plans == POSTINGS - custom_plans
