"""Faults between the app and PostgreSQL: ambiguous commits, resets, stalls, held locks."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from loyalty.common.clock import Clock
from loyalty.config import Settings
from loyalty.main import create_app
from tests.conftest import Tenant, assert_ledger_consistent, create_tenant
from tests.support import payloads
from tests.support.db import Database
from tests.support.faultproxy import FaultProxy, proxied_url, upstream_for
from tests.support.server import LiveServer
from tests.support.waiting import wait_until

PRODUCT = "9c56720c-e8a7-4fdc-aea4-7104f28207be"


@pytest.fixture(scope="module")
def proxy(database_url: str) -> Iterator[FaultProxy]:
    fault_proxy = FaultProxy(upstream_for(database_url))
    fault_proxy.start()
    yield fault_proxy
    fault_proxy.stop()


@pytest.fixture(scope="module")
def proxied_server(
    app_settings: Settings, proxy: FaultProxy, database_url: str
) -> Iterator[LiveServer]:
    settings = app_settings.model_copy(
        update={"DATABASE_URL": proxied_url(database_url, proxy.port), "DATABASE_POOL_SIZE": 4}
    )
    # The faults slow and cut every connection, the change listener's too: waiting for it
    # before each request would add the fault's delay to the figures these tests assert.
    server = LiveServer(create_app(settings, clock=Clock()), settle_account_changes=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def proxied(db: Database, proxied_server: LiveServer, proxy: FaultProxy) -> Iterator[Tenant]:
    tenant = create_tenant(db, proxied_server)
    yield tenant
    proxy.latency_seconds = 0
    proxy.commits_to_cut = 0
    tenant.client.close()
    assert_ledger_consistent(db, tenant.account_id)


def spend(customer: str, points: int) -> dict[str, object]:
    return payloads.sale(
        payloads.new_id(),
        customer,
        [payloads.position(PRODUCT, 1, 1000, discounted_price=1000 - points)],
        spend=points,
    )


class TestAmbiguousCommit:
    def test_the_tills_retry_returns_the_stored_result_and_applies_nothing_twice(
        self, proxied: Tenant, proxy: FaultProxy
    ) -> None:
        proxied.set_program(welcome_bonus_points=100)
        customer = proxied.register()
        body = spend(customer, 60)
        proxy.cut_next_commits(1)
        first = proxied.post("/retaildemand", body)
        assert first.status_code == 503 and proxy.commits_cut >= 1
        assert first.json()["errors"][0]["code"] == 50300
        # The sale is durable although the till was told otherwise; its retry is a replay.
        retry = proxied.post("/retaildemand", body)
        assert retry.status_code == 201 and retry.headers["Idempotency-Replayed"] == "true"
        assert (
            proxied.db.scalar(
                "SELECT count(*) FROM sale WHERE account_id = :a", a=proxied.account_id
            )
            == 1
        )
        assert proxied.balance(customer) == 100 - 60 + 47

    def test_a_cut_return_is_applied_once(self, proxied: Tenant, proxy: FaultProxy) -> None:
        customer = proxied.register()
        sale_id, _ = proxied.buy(customer, [payloads.position(PRODUCT, 2, 1000)])
        body = payloads.sales_return(
            payloads.new_id(), sale_id, [payloads.position(PRODUCT, 1, 1000)]
        )
        proxy.cut_next_commits(1)
        assert proxied.post("/retailsalesreturn", body).status_code == 503
        assert proxied.post("/retailsalesreturn", body).status_code == 201
        assert proxied.balance(customer) == 50


class TestConnectionLoss:
    def test_reset_connections_are_replaced_transparently(
        self, proxied: Tenant, proxy: FaultProxy
    ) -> None:
        customer = proxied.register()
        proxy.reset_all()
        assert proxied.balance(customer) == 0
        proxy.reset_all()
        proxied.buy(customer, [payloads.position(PRODUCT, 1, 1000)])
        assert proxied.balance(customer) == 50

    def test_a_change_listener_that_stops_hearing_back_turns_the_till_token_cache_off(
        self, proxied: Tenant, proxy: FaultProxy, proxied_server: LiveServer
    ) -> None:
        cache = proxied_server.app.state.account_cache
        wait_until(lambda: cache.live, "the listener never connected", seconds=10)
        # A link that still delivers bytes, but too late: the heartbeat (2 s) cannot come back.
        proxy.latency_seconds = 3.0
        started = time.monotonic()
        wait_until(lambda: not cache.live, "the cache stayed on without hearing back", seconds=6)
        assert time.monotonic() - started < 5.5
        proxy.latency_seconds = 0
        wait_until(lambda: cache.live, "the listener did not come back", seconds=15)


class TestDeadlines:
    def test_a_stalled_database_becomes_a_fast_503_and_recovers(
        self, proxied: Tenant, proxy: FaultProxy
    ) -> None:
        customer = proxied.register()
        proxy.latency_seconds = 3.0
        started = time.monotonic()
        response = proxied.post("/counterparty/detail", {"meta": {"id": customer}})
        elapsed = time.monotonic() - started
        assert response.status_code == 503 and elapsed < 2.6
        proxy.latency_seconds = 0
        proxy.reset_all()
        assert proxied.balance(customer) == 0

    def test_a_customer_held_by_another_till_fails_fast_and_others_are_unaffected(
        self, tenant: Tenant, database_url: str
    ) -> None:
        tenant.set_program(welcome_bonus_points=100)
        busy, free = tenant.register(), tenant.register()
        holding = threading.Event()
        release = threading.Event()

        def hold_lock() -> None:
            async def main() -> None:
                connection = await asyncpg.connect(
                    database_url.replace("postgresql+asyncpg", "postgresql")
                )
                try:
                    async with connection.transaction():
                        await connection.execute(
                            "SELECT 1 FROM customer_balance b JOIN customer c"
                            " ON c.account_id = b.account_id AND c.id = b.customer_id"
                            " WHERE c.moysklad_id = $1 FOR UPDATE OF b",
                            busy,
                        )
                        holding.set()
                        await asyncio.get_running_loop().run_in_executor(None, release.wait, 10)
                finally:
                    await connection.close()

            asyncio.run(main())

        holder = threading.Thread(target=hold_lock)
        holder.start()
        try:
            assert holding.wait(10)
            started = time.monotonic()
            blocked = tenant.post("/retaildemand", spend(busy, 10))
            blocked_seconds = time.monotonic() - started
            started = time.monotonic()
            unaffected = tenant.post("/retaildemand", spend(free, 10))
            free_seconds = time.monotonic() - started
        finally:
            release.set()
            holder.join()
        assert blocked.status_code == 503 and blocked_seconds < 2.0
        assert "другой кассе" in blocked.json()["errors"][0]["error_message"]
        assert unaffected.status_code == 201 and free_seconds < 1.0
        # Nothing of the refused sale remains; once the lock is gone the same sale goes through.
        assert tenant.post("/retaildemand", spend(busy, 10)).status_code == 201
        assert tenant.balance(busy) == 100 - 10 + 49

    def test_deadline_does_not_cut_a_normal_request(self, tenant: Tenant) -> None:
        customer = tenant.register()
        with httpx.Client(base_url=tenant.client.base_url, headers=tenant.client.headers) as client:
            response = client.post(
                "/retaildemand/recalc", json=payloads.recalc(customer, [payloads.position()])
            )
        assert response.status_code == 200
