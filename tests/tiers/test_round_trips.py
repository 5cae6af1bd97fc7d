"""The recalc hot path: tiers cost no round trip (they come with the program settings and the
window total with the customer's row); category rules cost one, and only when configured."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect

from tests.conftest import Tenant
from tests.support import payloads
from tests.support.vouchers import Operator
from tests.tiers.test_tiers import PRODUCT, with_tiers


class Statements:
    def __init__(self) -> None:
        self.recorded: list[str] = []
        self.on = False

    def during(self, tenant: Tenant, ms_id: str) -> list[str]:
        body = payloads.recalc(ms_id, [payloads.position(PRODUCT, 1, 100)])
        tenant.recalc(body)  # warm: type introspection and prepared statements
        self.recorded, self.on = [], True
        try:
            tenant.recalc(body)
        finally:
            self.on = False
        return self.recorded


@pytest.fixture
def statements() -> Iterator[Statements]:
    recorder = Statements()
    cursor = asyncpg_dialect.AsyncAdapt_asyncpg_cursor
    original = cursor._prepare_and_execute

    async def recorded(self: Any, operation: str, parameters: Any) -> None:
        # The server's background task runner polls its queue meanwhile; not the till's SQL.
        if recorder.on and "moysklad_task" not in operation:
            recorder.recorded.append(operation)
        await original(self, operation, parameters)

    cursor._prepare_and_execute = recorded  # type: ignore[method-assign]
    try:
        yield recorder
    finally:
        cursor._prepare_and_execute = original  # type: ignore[method-assign]


def test_tiers_add_no_round_trip_and_rules_add_one(
    tenant: Tenant, operator: Operator, statements: Statements
) -> None:
    customer = tenant.register()
    plain = statements.during(tenant, customer)
    assert 1 <= len(plain) <= 3, plain  # the token with the program, then the customer
    with_tiers(operator)
    tiered = statements.during(tenant, customer)
    assert len(tiered) == len(plain)
    assert any("customer_purchase_month" in sql for sql in tiered)
    operator.client.put(
        "/program/category-rules",
        json={"items": [{"target": "product", "id": PRODUCT, "noSpend": True}]},
    ).raise_for_status()
    ruled = statements.during(tenant, customer)
    assert len(ruled) == len(plain) + 1
    assert [sql for sql in ruled if "WITH RECURSIVE folders" in sql] == ruled[-1:]
    assert not any("WITH RECURSIVE folders" in sql for sql in plain + tiered)
