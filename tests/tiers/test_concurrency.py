"""Simultaneous sales and returns of one customer count once each and change the tier once."""

from __future__ import annotations

import asyncio

from tests.concurrency.test_races import post_all
from tests.conftest import Tenant
from tests.support import payloads
from tests.support.vouchers import Operator
from tests.tiers.test_tiers import PRODUCT, changes, stored_tier, with_tiers


def test_parallel_sales_cross_the_threshold_once(tenant: Tenant, operator: Operator) -> None:
    with_tiers(operator)
    customer = tenant.register()
    sales = [
        payloads.sale(payloads.new_id(), customer, [payloads.position(PRODUCT, 1, 300)])
        for _ in range(6)
    ]
    # Each sale twice: a till's retry must not count twice either.
    responses = asyncio.run(post_all(tenant, "/retaildemand", sales + sales))
    assert sorted({response.status_code for response in responses}) == [201]
    totals = tenant.db.fetch(
        "SELECT sum(purchased_minor) AS purchased FROM customer_purchase_month"
        " WHERE account_id = :a",
        a=tenant.account_id,
    )
    assert totals == [{"purchased": 6 * 30_000}]
    assert stored_tier(tenant, customer) == "Серебро"
    assert changes(tenant, customer) == [
        (None, "Бронза", "program"),
        ("Бронза", "Серебро", "sale"),
    ]
    # The four sales up to the threshold earn 3 % (9 each), the two after it 5 % (15 each),
    # whatever order the tills were served in.
    assert tenant.balance(customer) == 4 * 9 + 2 * 15
