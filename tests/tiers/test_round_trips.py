"""The recalc hot path: tiers cost no round trip (they come with the program settings and the
window total with the customer's row); category rules cost one, and only when configured."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Tenant
from tests.support import payloads
from tests.support.statements import sent_statements
from tests.support.vouchers import Operator
from tests.tiers.test_tiers import PRODUCT, with_tiers


class Statements:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def during(self, tenant: Tenant, ms_id: str) -> list[str]:
        body = payloads.recalc(ms_id, [payloads.position(PRODUCT, 1, 100)])
        tenant.recalc(body)  # warm: type introspection and prepared statements
        self.sent.clear()
        tenant.recalc(body)
        # The server's background task runner polls its queue meanwhile; not the till's SQL.
        return [sql for sql in self.sent if "moysklad_task" not in sql]


@pytest.fixture
def statements() -> Iterator[Statements]:
    recorder = Statements()
    with sent_statements() as sent:
        recorder.sent = sent
        yield recorder


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
