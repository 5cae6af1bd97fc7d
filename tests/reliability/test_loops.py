"""Sale → return → sale loops never create points from nothing.

Whatever a customer buys (earning or spending points, with partial returns in any order), once
everything has come back the customer holds exactly what they started with: no points, no debt.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import assert_ledger_consistent, create_tenant
from tests.support import payloads
from tests.support.db import Database
from tests.support.server import LiveServer


@dataclass(frozen=True)
class Purchase:
    quantity: int
    price: float
    spending: bool
    preferred: int | None


purchases = st.lists(
    st.builds(
        Purchase,
        quantity=st.integers(1, 4),
        price=st.sampled_from([10.0, 99.99, 250.5, 1200.0]),
        spending=st.booleans(),
        preferred=st.none() | st.integers(0, 300),
    ),
    min_size=1,
    max_size=5,
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plan=purchases, data=st.data())
def test_returning_everything_leaves_nothing(
    db: Database, server: LiveServer, plan: list[Purchase], data: st.DataObject
) -> None:
    tenant = create_tenant(db, server)
    tenant.set_program(earn_on_spend=data.draw(st.booleans()), max_spend_percent=100)
    customer = tenant.register()
    returns: list[tuple[str, str, float, int]] = []
    for purchase in plan:
        product = payloads.new_id()
        sale_id, _ = tenant.buy(
            customer,
            [payloads.position(product, purchase.quantity, purchase.price)],
            spending=purchase.spending,
            preferred=purchase.preferred,
        )
        # Return each sale in random parts.
        left = purchase.quantity
        while left:
            part = data.draw(st.integers(1, left))
            returns.append((sale_id, product, purchase.price, part))
            left -= part
    for sale_id, product, price, part in data.draw(st.permutations(returns)):
        body = payloads.sales_return(
            payloads.new_id(), sale_id, [payloads.position(product, part, price)]
        )
        assert tenant.post("/retailsalesreturn", body).status_code == 201
    assert tenant.stored_balance(customer) == {
        "available_points": 0,
        "pending_points": 0,
        "debt_points": 0,
    }
    assert_ledger_consistent(db, tenant.account_id)
    tenant.client.close()
