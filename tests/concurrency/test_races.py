"""Simultaneous tills against one real server: nothing spent twice, nothing applied twice."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import httpx
import pytest

from tests.conftest import TOKEN_HEADER, Tenant
from tests.support import payloads

pytestmark = pytest.mark.concurrency

PRODUCT = "9c56720c-e8a7-4fdc-aea4-7104f28207be"


async def post_all(tenant: Tenant, path: str, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(bodies))
    async with httpx.AsyncClient(
        base_url=f"{tenant.server.base_url}/loyalty",
        headers={TOKEN_HEADER: tenant.token},
        timeout=60,
        limits=limits,
    ) as client:
        return await asyncio.gather(*(client.post(path, json=body) for body in bodies))


def spend_sale(customer: str, points: int) -> dict[str, Any]:
    return payloads.sale(
        payloads.new_id(),
        customer,
        [payloads.position(PRODUCT, 1, 1000, discounted_price=1000 - points)],
        spend=points,
    )


class TestDoubleSpend:
    def test_twenty_tills_spending_most_of_one_balance_win_once(self, tenant: Tenant) -> None:
        tenant.set_program(welcome_bonus_points=100, earn_on_spend=False)
        customer = tenant.register()
        responses = asyncio.run(
            post_all(tenant, "/retaildemand", [spend_sale(customer, 60) for _ in range(20)])
        )
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [201] + [412] * 19, statuses
        assert all(
            r.json()["errors"][0]["code"] == 41201 for r in responses if r.status_code == 412
        )
        assert tenant.balance(customer) == 40

    def test_twenty_small_spends_all_fit_and_never_overdraw(self, tenant: Tenant) -> None:
        tenant.set_program(welcome_bonus_points=100, earn_on_spend=False)
        customer = tenant.register()
        responses = asyncio.run(
            post_all(tenant, "/retaildemand", [spend_sale(customer, 7) for _ in range(20)])
        )
        accepted = sum(response.status_code == 201 for response in responses)
        assert accepted == 14 and all(response.status_code in (201, 412) for response in responses)
        assert tenant.balance(customer) == 100 - 7 * 14


class TestDuplicateDelivery:
    def test_twenty_copies_of_one_sale_apply_once_and_answer_alike(self, tenant: Tenant) -> None:
        tenant.set_program(welcome_bonus_points=100)
        customer = tenant.register()
        body = spend_sale(customer, 50)
        responses = asyncio.run(post_all(tenant, "/retaildemand", [body] * 20))
        assert [response.status_code for response in responses] == [201] * 20
        assert len({response.content for response in responses}) == 1
        assert (
            sum(response.headers.get("Idempotency-Replayed") == "true" for response in responses)
            == 19
        )
        assert (
            tenant.db.scalar("SELECT count(*) FROM sale WHERE account_id = :a", a=tenant.account_id)
            == 1
        )
        assert tenant.balance(customer) == 100 - 50 + 47

    def test_concurrent_registrations_of_one_customer_make_one_customer(
        self, tenant: Tenant
    ) -> None:
        tenant.set_program(welcome_bonus_points=10)
        ms_id = payloads.new_id()
        bodies = [payloads.counterparty(ms_id, phone=f"+7900000000{index}") for index in range(10)]
        responses = asyncio.run(post_all(tenant, "/counterparty", bodies))
        assert [response.status_code for response in responses] == [201] * 10
        assert (
            tenant.db.scalar(
                "SELECT count(*) FROM customer WHERE account_id = :a", a=tenant.account_id
            )
            == 1
        )
        assert tenant.balance(ms_id) == 10

    def test_concurrent_partial_returns_never_exceed_the_sale(self, tenant: Tenant) -> None:
        customer = tenant.register()
        sale_id, _ = tenant.buy(customer, [payloads.position(PRODUCT, 10, 200)])
        assert tenant.balance(customer) == 100
        bodies = [
            payloads.sales_return(payloads.new_id(), sale_id, [payloads.position(PRODUCT, 3, 200)])
            for _ in range(8)
        ]
        responses = asyncio.run(post_all(tenant, "/retailsalesreturn", bodies))
        assert all(response.status_code == 201 for response in responses)
        reclaimed = tenant.db.scalar(
            "SELECT sum(reclaimed_earned_points) FROM sales_return WHERE account_id = :a",
            a=tenant.account_id,
        )
        assert reclaimed == 100 and tenant.balance(customer) == 0


class TestDoubleSpendBattery:
    """50 tills each try to spend 60 % of one balance at once, round after round."""

    def test_exactly_one_wins_every_round(self, tenant: Tenant) -> None:
        rounds = 200 if os.environ.get("CHAOS_SCALE") == "full" else 10
        tenant.set_program(earn_on_spend=False, max_spend_percent=100)
        for _ in range(rounds):
            customer = tenant.register()
            tenant.buy(customer, [payloads.position(PRODUCT, 1, 2000)])  # 100 points
            bodies = [spend_sale(customer, 60) for _ in range(50)]
            responses = asyncio.run(post_all(tenant, "/retaildemand", bodies))
            statuses = [response.status_code for response in responses]
            assert statuses.count(201) == 1 and statuses.count(412) == 49, statuses
            assert tenant.balance(customer) == 40
