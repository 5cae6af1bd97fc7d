"""The ledger model under concurrency: several tills at once on a few shared customers.

With tills interleaving, the order of operations is not known in advance, so the model predicts
what every order must agree on. Each operation that the service acknowledged moves a
customer's net position (available minus debt) by an amount that does not depend on the
order: an earning sale by its earn, a spending sale by minus its spend, a full return by the
opposite of its sale, a replay by nothing. A refused spend (412) moves nothing. At the end each
customer's net position must equal the sum of the moves the service acknowledged, every
document must be applied once, and `ledger verify` must be green.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.conftest import TOKEN_HEADER, Tenant, assert_ledger_consistent
from tests.reliability.test_ledger_model import EARN_PERCENT, FULL_SCALE, floor_percent, minor
from tests.support import payloads

pytestmark = pytest.mark.concurrency

CLIENTS = 6
CUSTOMERS = 3
OPERATIONS_PER_CLIENT = 60 if FULL_SCALE else 15
ROUNDS = 5 if FULL_SCALE else 1
WELCOME_POINTS = 150
PRICES = [Decimal("100"), Decimal("250.50"), Decimal("999.99")]
SPEND_PRICE = Decimal("1000")
# A request refused by the deadline (503) may or may not have committed: the till sends it again.
RETRIES = 5


@dataclass
class Acknowledged:
    """A sale the service accepted, with its effect on the customer's net position."""

    sale_id: str
    customer: str
    body: dict[str, Any]
    net_points: int
    returned: bool = False


@dataclass
class Till:
    number: int
    rng: random.Random
    customers: list[str]
    sales: list[Acknowledged] = field(default_factory=list)
    moves: dict[str, int] = field(default_factory=dict)
    statuses: list[int] = field(default_factory=list)

    def move(self, customer: str, points: int) -> None:
        self.moves[customer] = self.moves.get(customer, 0) + points


async def send(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> httpx.Response:
    for _ in range(RETRIES):
        response = await client.post(path, json=body)
        if response.status_code != 503:
            return response
        await asyncio.sleep(0.05)
    return response


async def earning_sale(client: httpx.AsyncClient, till: Till) -> None:
    customer = till.rng.choice(till.customers)
    price = till.rng.choice(PRICES)
    quantity = till.rng.randint(1, 3)
    sale_id = payloads.new_id()
    body = payloads.sale(
        sale_id, customer, [payloads.position(payloads.new_id(), quantity, float(price))]
    )
    response = await send(client, "/retaildemand", body)
    till.statuses.append(response.status_code)
    assert response.status_code == 201, response.text
    earned = floor_percent(minor(price) * quantity, EARN_PERCENT)
    till.sales.append(Acknowledged(sale_id, customer, body, earned))
    till.move(customer, earned)


async def spending_sale(client: httpx.AsyncClient, till: Till) -> None:
    customer = till.rng.choice(till.customers)
    points = till.rng.randint(1, 120)
    sale_id = payloads.new_id()
    price = float(SPEND_PRICE)
    body = payloads.sale(
        sale_id,
        customer,
        [payloads.position(payloads.new_id(), 1, price, discounted_price=price - points)],
        spend=points,
    )
    response = await send(client, "/retaildemand", body)
    till.statuses.append(response.status_code)
    if response.status_code == 412:
        assert response.json()["errors"][0]["code"] == 41201, response.text
        return
    assert response.status_code == 201, response.text
    # The program earns nothing on a receipt paid partly with points.
    till.sales.append(Acknowledged(sale_id, customer, body, -points))
    till.move(customer, -points)


async def replay(client: httpx.AsyncClient, till: Till) -> None:
    if not till.sales:
        return
    sale = till.rng.choice(till.sales)
    response = await send(client, "/retaildemand", sale.body)
    till.statuses.append(response.status_code)
    assert response.status_code == 201, response.text
    assert response.headers.get("Idempotency-Replayed") == "true"


async def full_return(client: httpx.AsyncClient, till: Till) -> None:
    open_sales = [sale for sale in till.sales if not sale.returned]
    if not open_sales:
        return
    sale = till.rng.choice(open_sales)
    positions = [
        payloads.position(item["assortment"]["meta"]["id"], item["quantity"], item["price"])
        for item in sale.body["positions"]
    ]
    body = payloads.sales_return(payloads.new_id(), sale.sale_id, positions)
    response = await send(client, "/retailsalesreturn", body)
    till.statuses.append(response.status_code)
    assert response.status_code == 201, response.text
    sale.returned = True
    # Points the customer no longer holds become debt, so the net move is exact.
    till.move(sale.customer, -sale.net_points)


OPERATIONS = [earning_sale, earning_sale, spending_sale, spending_sale, replay, full_return]


async def run_till(tenant: Tenant, till: Till) -> None:
    async with httpx.AsyncClient(
        base_url=f"{tenant.server.base_url}/loyalty",
        headers={TOKEN_HEADER: tenant.token},
        timeout=30,
    ) as client:
        for _ in range(OPERATIONS_PER_CLIENT):
            await till.rng.choice(OPERATIONS)(client, till)


async def trade(tenant: Tenant, tills: list[Till]) -> None:
    await asyncio.gather(*(run_till(tenant, till) for till in tills))


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_concurrent_tills_agree_with_the_order_free_model(
    tenant: Tenant, round_number: int
) -> None:
    tenant.set_program(
        earn_percent=EARN_PERCENT,
        max_spend_percent=50,
        earn_on_spend=False,
        welcome_bonus_points=WELCOME_POINTS,
    )
    customers = [tenant.register() for _ in range(CUSTOMERS)]
    tills = [
        Till(number, random.Random(f"{round_number}-{number}"), customers)
        for number in range(CLIENTS)
    ]

    asyncio.run(trade(tenant, tills))

    statuses = {status for till in tills for status in till.statuses}
    assert statuses <= {201, 412}, statuses
    for customer in customers:
        expected = WELCOME_POINTS + sum(till.moves.get(customer, 0) for till in tills)
        stored = tenant.stored_balance(customer)
        assert stored["pending_points"] == 0
        assert stored["available_points"] - stored["debt_points"] == expected, customer
        assert tenant.balance(customer) == stored["available_points"]
    sales = {sale.sale_id for till in tills for sale in till.sales}
    applied = tenant.db.fetch(
        "SELECT s.moysklad_id, count(*) AS copies FROM sale s"
        " WHERE s.account_id = :account GROUP BY s.moysklad_id",
        account=tenant.account_id,
    )
    assert {row["moysklad_id"] for row in applied} == sales
    assert all(row["copies"] == 1 for row in applied)
    assert_ledger_consistent(tenant.db, tenant.account_id)
