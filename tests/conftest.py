"""Every test talks HTTP to a real uvicorn server backed by a real, migrated PostgreSQL.

Each test gets its own merchant account (random ids), so tests never collide and nothing is
truncated; when a test ends, the full `ledger verify` runs on its account.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.accounts import service as accounts_service
from loyalty.common.clock import Clock
from loyalty.config import Settings
from loyalty.ledger.audit import verify_ledger
from loyalty.main import create_app
from loyalty.program import service as program_service
from tests.support import payloads
from tests.support.database import fresh_database
from tests.support.db import Database
from tests.support.pii_scan import SuiteLogs
from tests.support.server import LiveServer

TOKEN_HEADER = "Lognex-Discount-API-Auth-Token"


@pytest.fixture(scope="session", autouse=True)
def personal_data_never_logged() -> Iterator[SuiteLogs]:
    """Everything the service logs during the whole run is scanned for personal data."""
    logs = SuiteLogs()
    logs.attach()
    yield logs
    logs.detach()
    findings = logs.findings()
    assert findings == [], (
        f"personal data in {len(findings)} of {logs.records} log records: {findings[:10]}"
    )


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    with fresh_database(os.environ.get("PYTEST_XDIST_WORKER", "main")) as url:
        yield url


@pytest.fixture(scope="session")
def db(database_url: str) -> Database:
    return Database(database_url)


@pytest.fixture(scope="session")
def app_settings(database_url: str) -> Settings:
    # The race suites send dozens of concurrent tills to one in-process worker on a busy
    # machine: nothing is shed there (tests/reliability/test_load_shedding.py covers shedding).
    return Settings(
        DATABASE_URL=database_url,
        ENV="test",
        VERIFICATION_DAILY_CAP_PER_PHONE=5,
        MAX_REQUESTS_IN_FLIGHT=1000,
        # One process hosts many apps here; tests/operations/test_gc_tuning.py covers it.
        TUNE_GC=False,
    )


@pytest.fixture(scope="session")
def server(app_settings: Settings) -> Iterator[LiveServer]:
    live = LiveServer(create_app(app_settings, clock=Clock()))
    live.start()
    yield live
    live.stop()


@pytest.fixture
def clock(server: LiveServer) -> Iterator[Clock]:
    """The running server's clock; moved by tests, reset afterwards."""
    server_clock: Clock = server.app.state.clock
    yield server_clock
    server_clock.reset()


@dataclass
class Tenant:
    """One merchant account with a LoyaltyAPI client that carries its till token."""

    account_id: uuid.UUID
    token: str
    client: httpx.Client
    db: Database
    server: LiveServer
    extra_clients: list[httpx.Client] = field(default_factory=list)

    def set_program(self, **changes: Any) -> None:
        async def work(session: AsyncSession) -> None:
            await program_service.update_settings(session, self.account_id, changes)

        self.db.run(work)

    def post(self, path: str, body: Any, **kwargs: Any) -> httpx.Response:
        return self.client.post(path, json=body, **kwargs)

    def register(self, ms_id: str | None = None, **fields: Any) -> str:
        ms_id = ms_id or payloads.new_id()
        response = self.post("/counterparty", payloads.counterparty(ms_id, **fields))
        assert response.status_code == 201, response.text
        return ms_id

    def balance(self, ms_id: str) -> int:
        response = self.post(
            "/counterparty/detail",
            {"retailStore": payloads.store(), "meta": payloads.meta("counterparty", ms_id)},
        )
        assert response.status_code == 200, response.text
        points: int = response.json()["bonusProgram"]["agentBonusBalance"]
        return points

    def recalc(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.post("/retaildemand/recalc", body)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def buy(
        self,
        ms_id: str | None,
        positions: list[dict[str, Any]],
        *,
        spending: bool = False,
        preferred: Any = None,
    ) -> tuple[str, dict[str, Any]]:
        """Recalc then commit, as a till does. Returns the sale id and the recalc answer."""
        answer = self.recalc(
            payloads.recalc(ms_id, positions, spending=spending, preferred=preferred)
        )
        sale_id = payloads.new_id()
        response = self.post("/retaildemand", payloads.sale_from_recalc(sale_id, ms_id, answer))
        assert response.status_code == 201, response.text
        return sale_id, answer

    def stored_balance(self, ms_id: str) -> dict[str, int]:
        rows = self.db.fetch(
            "SELECT b.available_points, b.pending_points, b.debt_points FROM customer_balance b"
            " JOIN customer c ON c.account_id = b.account_id AND c.id = b.customer_id"
            " WHERE c.account_id = :account AND c.moysklad_id = :ms_id",
            account=self.account_id,
            ms_id=ms_id,
        )
        assert len(rows) == 1
        return rows[0]

    def new_client(self, token: str | None = None) -> httpx.Client:
        client = _client(self.server, token if token is not None else self.token)
        self.extra_clients.append(client)
        return client


def _client(server: LiveServer, token: str | None) -> httpx.Client:
    headers = {TOKEN_HEADER: token} if token else {}
    return httpx.Client(base_url=f"{server.base_url}/loyalty", headers=headers, timeout=30)


def create_tenant(db: Database, server: LiveServer, name: str = "Магазин") -> Tenant:
    async def work(session: AsyncSession) -> Any:
        return await accounts_service.create_account(session, name=name)

    created = db.run(work)
    return Tenant(created.id, created.token, _client(server, created.token), db, server)


def assert_ledger_consistent(db: Database, account_id: uuid.UUID) -> None:
    async def work(session: AsyncSession) -> Any:
        return await verify_ledger(session, account_id)

    violations = db.run(work)
    assert violations == [], violations


@pytest.fixture
def tenant(db: Database, server: LiveServer) -> Iterator[Tenant]:
    created = create_tenant(db, server)
    yield created
    for client in (created.client, *created.extra_clients):
        client.close()
    assert_ledger_consistent(db, created.account_id)


@pytest.fixture
def other_tenant(db: Database, server: LiveServer) -> Iterator[Tenant]:
    created = create_tenant(db, server, name="Другой магазин")
    yield created
    created.client.close()
    assert_ledger_consistent(db, created.account_id)


@pytest.fixture
def anonymous(server: LiveServer) -> Iterator[httpx.Client]:
    client = _client(server, None)
    yield client
    client.close()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.fixture
def operator(tenant: Tenant) -> Any:
    """An admin's operator API client (/api/v1) for the tenant; see tests/support/vouchers.py."""
    from tests.support.vouchers import operator_client

    return operator_client(tenant)
