"""Load shedding at admission: past the in-flight limit a request gets a fast 503 with
Retry-After instead of queueing toward the deadline; the admitted ones finish, health checks
are never shed, and the worker serves normally once the load is gone."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import asyncpg
import httpx
import pytest

from loyalty.common.clock import Clock
from loyalty.config import Settings
from loyalty.main import create_app
from tests.conftest import Tenant, create_tenant
from tests.support import payloads
from tests.support.db import Database
from tests.support.server import LiveServer

IN_FLIGHT = 2
ADMISSION_WAIT_SECONDS = 0.4  # in a burst
OVERLOADED_WAIT_SECONDS = 0.05  # while a queue stands
LOCK_TIMEOUT_MS = 2500  # how long an admitted sale waits for the held customer


@pytest.fixture(scope="module")
def limited_server(app_settings: Settings) -> Iterator[LiveServer]:
    settings = app_settings.model_copy(
        update={
            "MAX_REQUESTS_IN_FLIGHT": IN_FLIGHT,
            "ADMISSION_WAIT_SECONDS": ADMISSION_WAIT_SECONDS,
            "ADMISSION_WAIT_OVERLOADED_SECONDS": OVERLOADED_WAIT_SECONDS,
            "DATABASE_LOCK_TIMEOUT_MS": LOCK_TIMEOUT_MS,
            "DATABASE_STATEMENT_TIMEOUT_MS": 2 * LOCK_TIMEOUT_MS,
            "REQUEST_DEADLINE_SECONDS": 10.0,
        }
    )
    server = LiveServer(create_app(settings, clock=Clock()))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def limited(db: Database, limited_server: LiveServer) -> Iterator[Tenant]:
    tenant = create_tenant(db, limited_server)
    yield tenant
    tenant.client.close()


@contextmanager
def customer_held(database_url: str, ms_id: str) -> Iterator[None]:
    """Another till's transaction holding the customer's balance row."""
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
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
                        ms_id,
                    )
                    holding.set()
                    await asyncio.get_running_loop().run_in_executor(None, release.wait, 30)
            finally:
                await connection.close()

        asyncio.run(main())

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        yield
    finally:
        release.set()
        holder.join()


def seller(tenant: Tenant, customer: str) -> Callable[[int], tuple[int, float, httpx.Response]]:
    def sale(_index: int) -> tuple[int, float, httpx.Response]:
        body = payloads.sale(payloads.new_id(), customer, [payloads.position()])
        with tenant.new_client() as client:
            started = time.monotonic()
            response = client.post("/retaildemand", json=body)
            return response.status_code, time.monotonic() - started, response

    return sale


def test_the_excess_gets_a_fast_503_and_the_admitted_finish(
    limited: Tenant, limited_server: LiveServer, database_url: str
) -> None:
    customer = limited.register()
    sale = seller(limited, customer)

    with customer_held(database_url, customer), ThreadPoolExecutor(max_workers=8) as pool:
        pending = [pool.submit(sale, index) for index in range(8)]
        time.sleep(ADMISSION_WAIT_SECONDS / 2)
        # Meanwhile a health check is never shed.
        health = httpx.get(f"{limited_server.base_url}/healthz", timeout=5)
        answers = [future.result() for future in pending]
    assert health.status_code == 200

    codes = [response.json()["errors"][0]["code"] for _, _, response in answers]
    assert {status for status, _, _ in answers} == {503}
    shed = [
        (seconds, response)
        for (_, seconds, response), code in zip(answers, codes, strict=True)
        if code == 50301
    ]
    # The admitted ones waited for the held customer (their own, slower 503).
    assert len(shed) == len(answers) - IN_FLIGHT
    for seconds, response in shed:
        assert seconds < LOCK_TIMEOUT_MS / 1000  # refused after the wait, not after the lock
        assert response.headers["retry-after"] == "1"
        assert "Повторите" in response.json()["errors"][0]["error_message"]

    # The slots were all given back: concurrent sales are admitted and go through.
    with ThreadPoolExecutor(max_workers=IN_FLIGHT) as pool:
        statuses = [status for status, _, _ in pool.map(sale, range(IN_FLIGHT))]
    assert statuses == [201] * IN_FLIGHT


def test_a_standing_queue_is_shed_sooner_than_a_burst(limited: Tenant, database_url: str) -> None:
    """Requests keep arriving while the slots stay taken: the first waiters get the burst
    wait; once the queue has stood through a half-second interval, newcomers are refused
    almost at once."""
    customer = limited.register()
    sale = seller(limited, customer)
    sent_at: list[float] = []
    with customer_held(database_url, customer), ThreadPoolExecutor(max_workers=16) as pool:
        admitted = [pool.submit(sale, index) for index in range(IN_FLIGHT)]
        time.sleep(0.1)
        start = time.monotonic()
        waiters = []
        for index in range(13):  # one every 0.1 s: the queue never empties
            sent_at.append(time.monotonic() - start)
            waiters.append(pool.submit(sale, index))
            time.sleep(0.1)
        answers = [future.result() for future in waiters]
        [future.result() for future in admitted]
    codes = [response.json()["errors"][0]["code"] for _, _, response in answers]
    assert codes == [50301] * len(answers)
    early = [seconds for at, (_, seconds, _) in zip(sent_at, answers, strict=True) if at < 0.3]
    late = [seconds for at, (_, seconds, _) in zip(sent_at, answers, strict=True) if at > 1.0]
    assert early and late
    assert min(early) >= ADMISSION_WAIT_SECONDS * 0.9
    assert max(late) < ADMISSION_WAIT_SECONDS * 0.75


POOL_SIZE = 3


def test_by_default_admission_keeps_to_the_pool(
    app_settings: Settings, db: Database, database_url: str
) -> None:
    """Unset, the in-flight limit is the pool's size: more concurrent requests queue at
    admission instead of opening overflow connections (which a steady load would open and
    close without end)."""
    settings = app_settings.model_copy(
        update={
            "MAX_REQUESTS_IN_FLIGHT": None,
            "DATABASE_POOL_SIZE": POOL_SIZE,
            "DATABASE_MAX_OVERFLOW": POOL_SIZE,
            "ADMISSION_WAIT_SECONDS": 5.0,
            "DATABASE_LOCK_TIMEOUT_MS": 8000,
            "DATABASE_STATEMENT_TIMEOUT_MS": 9000,
            "REQUEST_DEADLINE_SECONDS": 10.0,
        }
    )
    server = LiveServer(create_app(settings, clock=Clock()))
    server.start()
    tenant = create_tenant(db, server)
    try:
        customer = tenant.register()
        sale = seller(tenant, customer)
        with ThreadPoolExecutor(max_workers=2 * POOL_SIZE) as pool:
            with customer_held(database_url, customer):
                pending = [pool.submit(sale, index) for index in range(2 * POOL_SIZE)]
                seen = wait_for_connections_in_use(server, POOL_SIZE)
                time.sleep(0.5)  # the others had time to take an overflow connection
                seen = max(seen, connections_in_use(server))
            statuses = [future.result()[0] for future in pending]
        assert seen == POOL_SIZE
        assert statuses == [201] * (2 * POOL_SIZE)
    finally:
        tenant.client.close()
        server.stop()


def connections_in_use(server: LiveServer) -> int:
    """Connections checked out of this server's own pool (the metrics gauge sums every app
    of the test process)."""
    checked_out: int = server.app.state.engine.pool.checkedout()
    return checked_out


def wait_for_connections_in_use(server: LiveServer, count: int) -> int:
    deadline = time.monotonic() + 10
    seen = connections_in_use(server)
    while seen < count and time.monotonic() < deadline:
        time.sleep(0.05)
        seen = connections_in_use(server)
    return seen
